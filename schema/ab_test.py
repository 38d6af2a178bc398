"""The A/B comparison of a campaign's variants and its heatmap by two factors."""

from typing import Annotated

import strawberry

from resolvers import ab_test as resolve
from schema.enums import ABMetric

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

    @strawberry.field
    def heatmap(self, row_factor: str, column_factor: str) -> list[HeatmapCell]:
        return resolve.heatmap(self, row_factor, column_factor)
