"""A/B test statistics (docs/metrics.md, "A/B test"): pure functions, no I/O.

Each variant is an `Arm`: how many recipients did the thing (successes) out of how many could
(trials). Variants are compared with a pooled two-proportion z-test against the control, and with
the probability of being best under Beta(1 + successes, 1 + failures) posteriors, computed by
numerical integration so that the same data always gives the same answer.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# Each posterior is integrated over its mean +- this many standard deviations: the mass left out
# is below 1e-9 even for the most skewed posterior (no successes: an exponential-like tail).
SPREAD = 20.0
# Grid points per posterior (odd, for Simpson's rule); the integrands are smooth, so this is
# accurate to about 1e-7 even when one posterior is a hundred times narrower than another.
POINTS = 601
SIMPSON_WEIGHTS = [1] + [4 if k % 2 else 2 for k in range(1, POINTS - 1)] + [1]


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's numerator and denominator of the chosen rate."""

    successes: int
    trials: int

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def bounded_successes(self) -> int:
        """Successes within the trials (a purchase without a recorded delivery still counts as
        one of the delivered), so that proportions stay in [0, 1]."""
        return max(0, min(self.successes, self.trials))


@dataclass(frozen=True, slots=True)
class Comparison:
    rate: float | None
    lift_over_control: float | None
    p_value: float | None  # None for the control itself
    probability_to_be_best: float


@dataclass(frozen=True, slots=True)
class Outcome:
    control: int
    winner: int | None
    significant: bool
    comparisons: list[Comparison]


@dataclass(frozen=True, slots=True)
class Cell:
    row: str
    column: str
    rate: float | None
    recipients: int


def two_sided_p_value(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def z_test_p_value(first: Arm, second: Arm) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when an arm has no trials."""
    if not first.trials or not second.trials:
        return None
    s1, s2 = first.bounded_successes, second.bounded_successes
    pooled = (s1 + s2) / (first.trials + second.trials)
    variance = pooled * (1 - pooled) * (1 / first.trials + 1 / second.trials)
    if variance <= 0:
        return 1.0  # both all-successes or both all-failures: no difference to test
    z = (s1 / first.trials - s2 / second.trials) / math.sqrt(variance)
    return two_sided_p_value(z)


def lift(rate: float | None, control_rate: float | None) -> float | None:
    """(rate - control) / control; None when either is unknown or the control is 0."""
    if rate is None or not control_rate:
        return None
    return (rate - control_rate) / control_rate


class _Posterior:
    """Beta(1 + successes, 1 + failures), tabulated on a uniform grid over mean +- SPREAD sd."""

    def __init__(self, arm: Arm) -> None:
        successes = arm.bounded_successes
        self.a = 1.0 + successes
        self.b = 1.0 + arm.trials - successes
        total = self.a + self.b
        mean = self.a / total
        sd = math.sqrt(self.a * self.b / (total * total * (total + 1)))
        self.log_norm = math.lgamma(self.a) + math.lgamma(self.b) - math.lgamma(total)
        self.low = max(0.0, mean - SPREAD * sd)
        self.high = min(1.0, mean + SPREAD * sd)
        self.step = (self.high - self.low) / (POINTS - 1)
        self.xs = [self.low + i * self.step for i in range(POINTS)]
        densities = [self.density(x) for x in self.xs]
        # The CDF at the grid points by Simpson's rule on each interval (exact for the
        # polynomials Beta densities are locally close to), then scaled so the grid's mass is 1.
        cdf, total_mass = [0.0], 0.0
        for i in range(1, POINTS):
            middle = self.density(self.xs[i] - self.step / 2)
            total_mass += self.step * (densities[i - 1] + 4 * middle + densities[i]) / 6
            cdf.append(total_mass)
        self.densities = [d / total_mass for d in densities]
        self.cdf_values = [c / total_mass for c in cdf]

    def density(self, x: float) -> float:
        """The (unscaled) Beta density at x."""
        if x <= 0.0:
            return math.exp(-self.log_norm) if self.a == 1.0 else 0.0
        if x >= 1.0:
            return math.exp(-self.log_norm) if self.b == 1.0 else 0.0
        return math.exp((self.a - 1) * math.log(x) + (self.b - 1) * math.log1p(-x) - self.log_norm)

    def cdf(self, x: float) -> float:
        """P(rate <= x): cubic Hermite interpolation of the tabulated CDF, whose slope is the
        density, so that it is as accurate between grid points as on them."""
        if x <= self.low:
            return 0.0
        if x >= self.high:
            return 1.0
        position = (x - self.low) / self.step
        i = min(int(position), POINTS - 2)
        t = position - i
        h = self.step
        f0, f1 = self.cdf_values[i], self.cdf_values[i + 1]
        d0, d1 = self.densities[i] * h, self.densities[i + 1] * h
        t2, t3 = t * t, t * t * t
        return (
            (2 * t3 - 3 * t2 + 1) * f0
            + (t3 - 2 * t2 + t) * d0
            + (-2 * t3 + 3 * t2) * f1
            + (t3 - t2) * d1
        )


def probabilities_to_be_best(arms: Sequence[Arm]) -> list[float]:
    """P(arm i has the highest true rate) under independent Beta posteriors.

    P_i = integral of density_i(x) * product over j != i of CDF_j(x) dx, by Simpson's rule on
    arm i's own grid (where its density lives); the results are scaled to sum to exactly 1.
    """
    return list(_probabilities_to_be_best(tuple(arms)))


# Dashboards ask for the same campaign again and again; the answer only changes with the counts.
@lru_cache(maxsize=1024)
def _probabilities_to_be_best(arms: tuple[Arm, ...]) -> tuple[float, ...]:
    if not arms:
        return ()
    if len(arms) == 1:
        return (1.0,)
    posteriors = [_Posterior(arm) for arm in arms]
    best = []
    for i, posterior in enumerate(posteriors):
        others = [p for j, p in enumerate(posteriors) if j != i]
        integrand = [
            density * math.prod(other.cdf(x) for other in others)
            for x, density in zip(posterior.xs, posterior.densities, strict=True)
        ]
        weighted = sum(w * y for w, y in zip(SIMPSON_WEIGHTS, integrand, strict=True))
        best.append(posterior.step / 3 * weighted)
    total = sum(best)
    return tuple(value / total for value in best)


def compare(arms: Sequence[Arm], control: int, confidence: float) -> Outcome:
    """Every variant against the control, the winner (highest rate; the earlier on a tie), and
    whether the winner beats every other variant at `confidence` (p-value < 1 - confidence)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    control_arm = arms[control]
    best = probabilities_to_be_best(arms)
    comparisons = [
        Comparison(
            rate=arm.rate,
            lift_over_control=lift(arm.rate, control_arm.rate),
            p_value=None if index == control else z_test_p_value(arm, control_arm),
            probability_to_be_best=best[index],
        )
        for index, arm in enumerate(arms)
    ]
    rated = [(arm.rate, -index) for index, arm in enumerate(arms) if arm.rate is not None]
    winner = -max(rated)[1] if rated else None
    significant = False
    if winner is not None and len(arms) > 1:
        p_values = [
            z_test_p_value(arms[winner], arm) for index, arm in enumerate(arms) if index != winner
        ]
        significant = all(p is not None and p < 1.0 - confidence for p in p_values)
    return Outcome(control, winner, significant, comparisons)


def heatmap(variants: Iterable[tuple[str, str, int, int, int]]) -> list[Cell]:
    """Cells of (row value, column value, successes, trials, recipients) summed per (row, column):
    rate = summed successes / summed trials. Ordered by row, then column."""
    sums: dict[tuple[str, str], list[int]] = {}
    for row, column, successes, trials, recipients in variants:
        cell = sums.setdefault((row, column), [0, 0, 0])
        cell[0] += successes
        cell[1] += trials
        cell[2] += recipients
    return [
        Cell(row, column, successes / trials if trials else None, recipients)
        for (row, column), (successes, trials, recipients) in sorted(sums.items())
    ]
