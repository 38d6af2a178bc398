"""The A/B comparison of a campaign's variants and its heatmap by two factors."""

from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import ab_test as resolve
from schema import campaign as campaign_types
from schema.enums import ABMetric

if TYPE_CHECKING:
    from schema.campaign import Variant
else:  # schema.campaign imports this module: strawberry resolves it when the schema is built
    Variant = Annotated["Variant", strawberry.lazy("schema.campaign")]


@strawberry.type
class VariantComparison:
    variant: Variant
    rate: float | None
    lift_over_control: float | None
    p_value: float | None = strawberry.field(
        description="two-sided p-value against the control; null for the control itself"
    )
    probability_to_be_best: float | None


@strawberry.type
class HeatmapCell:
    row: str
    column: str
    rate: float | None
    recipients: int


@strawberry.type
class ABTest:
    metric: ABMetric
    control: Variant | None
    winner: Variant | None
    significant: bool = strawberry.field(
        description="true when the winner beats every other variant at the confidence asked for"
    )
    comparisons: list[VariantComparison]
    # Per variant: its factors, the metric's numerator and denominator, and its recipients.
    cells: strawberry.Private[list[resolve.VariantCounts]]

    @classmethod
    def from_result(cls, result: resolve.ABResult) -> "ABTest":
        variants = [
            campaign_types.Variant.from_row(row, counters) for row, counters in result.variants
        ]
        return cls(
            metric=result.metric,
            control=variants[result.control],
            winner=None if result.winner is None else variants[result.winner],
            significant=result.significant,
            comparisons=[
                VariantComparison(
                    variant=variant,
                    rate=comparison.rate,
                    lift_over_control=comparison.lift_over_control,
                    p_value=comparison.p_value,
                    probability_to_be_best=comparison.probability_to_be_best,
                )
                for variant, comparison in zip(variants, result.comparisons, strict=True)
            ],
            cells=result.cells,
        )

    @strawberry.field
    def heatmap(self, row_factor: str, column_factor: str) -> list[HeatmapCell]:
        return [
            HeatmapCell(
                row=cell.row, column=cell.column, rate=cell.rate, recipients=cell.recipients
            )
            for cell in resolve.heatmap(self.cells, row_factor, column_factor)
        ]
