"""The root Mutation type."""

import strawberry

from resolvers import campaign_mutations, response_mutations
from resolvers.context import Info
from schema.inputs import (
    AddRecipientsInput,
    DeleteResponsesInput,
    RecordResponseInput,
    UpdateResponseStatusInput,
    UpsertCampaignInput,
)
from schema.payloads import (
    AddRecipientsPayload,
    DeleteResponsesPayload,
    RecordResponsePayload,
    UpsertCampaignPayload,
)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="ADMIN: record a response by hand, e.g. for a campaign that is not tracked "
        "automatically."
    )
    async def record_response(
        self, info: Info, input: RecordResponseInput
    ) -> RecordResponsePayload:
        return RecordResponsePayload.from_result(
            await response_mutations.record_response(info, input)
        )

    @strawberry.mutation(
        description="ADMIN: set a new response for a recipient; the earlier ones stay in its "
        "history."
    )
    async def update_response_status(
        self, info: Info, input: UpdateResponseStatusInput
    ) -> RecordResponsePayload:
        return RecordResponsePayload.from_result(
            await response_mutations.update_response_status(info, input)
        )

    @strawberry.mutation(
        description="ADMIN: delete every response of a contact to a campaign; the deletion itself "
        "is kept for audit."
    )
    async def delete_responses(
        self, info: Info, input: DeleteResponsesInput
    ) -> DeleteResponsesPayload:
        return DeleteResponsesPayload.from_result(
            await response_mutations.delete_responses(info, input)
        )

    @strawberry.mutation(
        description="INTEGRATION or ADMIN: create or update a campaign by its external id."
    )
    async def upsert_campaign(
        self, info: Info, input: UpsertCampaignInput
    ) -> UpsertCampaignPayload:
        return UpsertCampaignPayload.from_result(
            await campaign_mutations.upsert_campaign(info, input)
        )

    @strawberry.mutation(
        description="INTEGRATION or ADMIN: add contacts as recipients of a campaign."
    )
    async def add_recipients(self, info: Info, input: AddRecipientsInput) -> AddRecipientsPayload:
        return AddRecipientsPayload.from_result(
            await campaign_mutations.add_recipients(info, input)
        )
