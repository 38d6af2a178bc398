"""Campaign.abTest: the chosen rate per variant against the control, and the heatmap.

The statistics are pure functions in app/ab_statistics.py; this module reads the counters (one
statement for every variant of every campaign asked for) and shapes the answer.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from graphql import GraphQLError

from app import ab_statistics
from app.enums import ABMetric
from resolvers import campaigns, loaders
from resolvers.context import Info
from resolvers.records import Counters, Row

# The metric's (numerator, denominator) among the statistics counters (docs/metrics.md).
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


@dataclass(frozen=True, slots=True)
class ABResult:
    """The comparison: the variants (rows with their counters) in the order of `comparisons`,
    the control's and the winner's index among them, and each variant's counts for heatmaps."""

    metric: ABMetric
    variants: list[tuple[Row, Counters]]
    control: int
    winner: int | None
    significant: bool
    comparisons: list[ab_statistics.Comparison]
    cells: list[VariantCounts]


async def campaign_ab_test(
    info: Info, campaign_pk: int, metric: ABMetric | None, confidence: float | None
) -> ABResult | None:
    """The A/B comparison; None when the campaign has fewer than two variants."""
    metric = metric or ABMetric.CLICK_RATE
    confidence = 0.95 if confidence is None else confidence
    if not 0.0 < confidence < 1.0:
        raise GraphQLError(
            f"confidence must be between 0 and 1 (exclusive), e.g. 0.95; got {confidence}",
            extensions={"code": "BAD_USER_INPUT", "argument": "confidence"},
        )
    variants = await campaigns.campaign_variants(info, campaign_pk)
    if len(variants) < 2:
        return None
    counters = await info.context.loader(loaders.variant_counters).load_many(
        [row.id for row, _ in variants]
    )
    numerator, denominator = METRIC_COUNTERS[metric]
    arms = [ab_statistics.Arm(int(c[numerator]), int(c[denominator])) for c in counters]
    control = next((i for i, (row, _) in enumerate(variants) if row.is_control), 0)
    outcome = ab_statistics.compare(arms, control, confidence)
    return ABResult(
        metric=metric,
        variants=variants,
        control=outcome.control,
        winner=outcome.winner,
        significant=outcome.significant,
        comparisons=outcome.comparisons,
        cells=[
            VariantCounts(
                factors={factor["name"]: factor["value"] for factor in row.factors or []},
                successes=arm.successes,
                trials=arm.trials,
                recipients=int(c["recipients"]),
            )
            for (row, _), arm, c in zip(variants, arms, counters, strict=True)
        ],
    )


def heatmap(
    cells: Iterable[VariantCounts], row_factor: str, column_factor: str
) -> list[ab_statistics.Cell]:
    """Variants grouped by their values of two factors; variants without both are left out."""
    return ab_statistics.heatmap(
        (
            variant.factors[row_factor],
            variant.factors[column_factor],
            variant.successes,
            variant.trials,
            variant.recipients,
        )
        for variant in cells
        if row_factor in variant.factors and column_factor in variant.factors
    )
