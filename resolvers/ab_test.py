"""Campaign.abTest: the chosen rate per variant against the control, and the heatmap.

The statistics are pure functions in app/ab_statistics.py; this module reads the counters (one
statement for every variant of every campaign asked for) and shapes the answer.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql import GraphQLError

from app import ab_statistics
from resolvers import campaigns, loaders
from resolvers.context import Info
from schema.enums import ABMetric

if TYPE_CHECKING:
    from schema.ab_test import ABTest, HeatmapCell
    from schema.campaign import Campaign

# The metric's (numerator, denominator) among the statistics counters (DESIGN.md, "Metrics").
METRIC_COUNTERS = {
    ABMetric.OPEN_RATE: ("opened", "sent"),
    ABMetric.CLICK_RATE: ("clicked", "sent"),
    ABMetric.CLICK_TO_OPEN_RATE: ("clicked", "opened"),
    ABMetric.CONVERSION_RATE: ("purchases", "delivered"),
}


@dataclass(frozen=True, slots=True)
class VariantCounts:
    factors: dict[str, str]
    successes: int
    trials: int
    recipients: int


async def campaign_ab_test(
    info: Info, campaign: "Campaign", metric: ABMetric | None, confidence: float | None
) -> "ABTest | None":
    """The A/B comparison; None when the campaign has fewer than two variants."""
    from schema import ab_test as types  # the schema module imports this one

    metric = metric or ABMetric.CLICK_RATE
    confidence = 0.95 if confidence is None else confidence
    if not 0.0 < confidence < 1.0:
        raise GraphQLError(
            f"confidence must be between 0 and 1 (exclusive), e.g. 0.95; got {confidence}",
            extensions={"code": "BAD_USER_INPUT", "argument": "confidence"},
        )
    variants = await campaigns.campaign_variants(info, campaign.pk)
    if len(variants) < 2:
        return None
    counters = await info.context.loader(loaders.variant_counters).load_many(
        [variant.pk for variant in variants]
    )
    numerator, denominator = METRIC_COUNTERS[metric]
    arms = [ab_statistics.Arm(int(c[numerator]), int(c[denominator])) for c in counters]
    control = next((i for i, variant in enumerate(variants) if variant.is_control), 0)
    outcome = ab_statistics.compare(arms, control, confidence)
    return types.ABTest(
        metric=metric,
        control=variants[outcome.control],
        winner=None if outcome.winner is None else variants[outcome.winner],
        significant=outcome.significant,
        comparisons=[
            types.VariantComparison(
                variant=variant,
                rate=comparison.rate,
                lift_over_control=comparison.lift_over_control,
                p_value=comparison.p_value,
                probability_to_be_best=comparison.probability_to_be_best,
            )
            for variant, comparison in zip(variants, outcome.comparisons, strict=True)
        ],
        cells=[
            VariantCounts(
                factors={factor.name: factor.value for factor in variant.factors},
                successes=arm.successes,
                trials=arm.trials,
                recipients=int(c["recipients"]),
            )
            for variant, arm, c in zip(variants, arms, counters, strict=True)
        ],
    )


def heatmap(test: "ABTest", row_factor: str, column_factor: str) -> list["HeatmapCell"]:
    """Variants grouped by their values of two factors; variants without both are left out."""
    from schema import ab_test as types

    cells = ab_statistics.heatmap(
        (
            variant.factors[row_factor],
            variant.factors[column_factor],
            variant.successes,
            variant.trials,
            variant.recipients,
        )
        for variant in test.cells
        if row_factor in variant.factors and column_factor in variant.factors
    )
    return [
        types.HeatmapCell(row=c.row, column=c.column, rate=c.rate, recipients=c.recipients)
        for c in cells
    ]
