"""A/B tests: rates per variant, z-test p-values, probability to be best, winner, heatmap."""

import math
import random

import pytest

from app import ab_statistics
from app.ab_statistics import Arm
from tests.factories import event, graphql, make_campaign, post_events


def miller_probability_b_beats_a(a: Arm, b: Arm) -> float:
    """P(rate B > rate A) for Beta(1 + s, 1 + f) posteriors: Evan Miller's closed form
    (sum over i < alpha_B of B(aA + i, bA + bB) / ((bB + i) B(1 + i, bB) B(aA, bA)))."""

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    alpha_a, beta_a = 1 + a.successes, 1 + a.trials - a.successes
    alpha_b, beta_b = 1 + b.successes, 1 + b.trials - b.successes
    return sum(
        math.exp(
            log_beta(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - log_beta(1 + i, beta_b)
            - log_beta(alpha_a, beta_a)
        )
        for i in range(alpha_b)
    )


def monte_carlo_best(arms: list[Arm], draws: int = 40_000) -> list[float]:
    """P(best) by sampling the posteriors (a fixed seed: the test is repeatable)."""
    generator = random.Random(20261120)
    wins = [0] * len(arms)
    for _ in range(draws):
        samples = [
            generator.betavariate(1 + arm.successes, 1 + arm.trials - arm.successes) for arm in arms
        ]
        wins[samples.index(max(samples))] += 1
    return [count / draws for count in wins]


# --- The statistics, without a database --------------------------------------------------


def test_p_value_by_hand():
    # 200/1000 vs 250/1000: pooled p = 450/2000 = 0.225,
    # se = sqrt(0.225 * 0.775 * (1/1000 + 1/1000)) = sqrt(0.00034875) = 0.018675,
    # z = 0.05 / 0.018675 = 2.6774, two-sided p = 2 * (1 - Phi(2.6774)) = 0.00742.
    p_value = ab_statistics.z_test_p_value(Arm(200, 1000), Arm(250, 1000))
    assert p_value == pytest.approx(0.00742, abs=0.00001)
    assert ab_statistics.z_test_p_value(Arm(250, 1000), Arm(200, 1000)) == p_value
    assert ab_statistics.z_test_p_value(Arm(30, 100), Arm(30, 100)) == 1.0
    assert ab_statistics.z_test_p_value(Arm(0, 100), Arm(0, 50)) == 1.0
    assert ab_statistics.z_test_p_value(Arm(3, 10), Arm(0, 0)) is None


def test_normal_tail_known_values():
    # Two-sided critical values of the standard normal, from any statistics table.
    assert ab_statistics.two_sided_p_value(0.0) == 1.0
    assert ab_statistics.two_sided_p_value(1.959963984540054) == pytest.approx(0.05, abs=1e-12)
    assert ab_statistics.two_sided_p_value(-2.5758293035489) == pytest.approx(0.01, abs=1e-12)
    assert ab_statistics.two_sided_p_value(3.2905267314919255) == pytest.approx(0.001, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Arm(200, 1000), Arm(250, 1000)),
        (Arm(20, 100), Arm(25, 100)),
        (Arm(0, 5), Arm(3, 5)),
        (Arm(5000, 100_000), Arm(5100, 100_000)),
        (Arm(1, 3), Arm(400, 2000)),  # a wide posterior against a narrow one
    ],
)
def test_probability_to_be_best_matches_the_closed_form(a, b):
    expected = miller_probability_b_beats_a(a, b)
    p_a, p_b = ab_statistics.probabilities_to_be_best([a, b])
    assert p_b == pytest.approx(expected, abs=1e-6)
    assert p_a + p_b == pytest.approx(1.0, abs=1e-12)


def test_probability_to_be_best_of_several_variants():
    arms = [Arm(10, 100), Arm(12, 100), Arm(15, 100), Arm(9, 100)]
    best = ab_statistics.probabilities_to_be_best(arms)
    assert sum(best) == pytest.approx(1.0, abs=1e-12)
    for computed, sampled in zip(best, monte_carlo_best(arms), strict=True):
        assert computed == pytest.approx(sampled, abs=0.01)
    # Identical variants are equally likely to be best.
    assert ab_statistics.probabilities_to_be_best([Arm(7, 50)] * 3) == pytest.approx([1 / 3] * 3)
    assert ab_statistics.probabilities_to_be_best([Arm(0, 0), Arm(0, 0)]) == [0.5, 0.5]


def test_same_data_same_answer():
    arms = [Arm(37, 400), Arm(52, 410), Arm(41, 395)]
    first = ab_statistics.compare(arms, 0, 0.95)
    ab_statistics._probabilities_to_be_best.cache_clear()
    second = ab_statistics.compare(arms, 0, 0.95)
    assert first == second


def test_winner_and_significance():
    control, better = Arm(200, 1000), Arm(250, 1000)  # p = 0.00742 (above)
    outcome = ab_statistics.compare([control, better], 0, 0.95)
    assert outcome.winner == 1 and outcome.significant
    assert outcome.comparisons[0].p_value is None
    assert outcome.comparisons[0].lift_over_control == 0.0
    assert outcome.comparisons[1].lift_over_control == pytest.approx(0.25)  # 0.05 / 0.2
    assert ab_statistics.compare([control, better], 0, 0.99).significant  # 0.0074 < 0.01
    assert not ab_statistics.compare([control, better], 0, 0.999).significant
    # A close runner-up: the winner does not beat EVERY other variant.
    close = ab_statistics.compare([control, better, Arm(245, 1000)], 0, 0.95)
    assert close.winner == 1 and not close.significant
    # No data at all: no winner.
    empty = ab_statistics.compare([Arm(0, 0), Arm(0, 0)], 0, 0.95)
    assert empty.winner is None and not empty.significant
    assert empty.comparisons[1].rate is None and empty.comparisons[1].p_value is None
    with pytest.raises(ValueError):
        ab_statistics.compare([control, better], 0, 1.0)


def test_heatmap_sums_numerators_and_denominators():
    cells = ab_statistics.heatmap(
        [
            ("Short", "Yes", 2, 10, 10),
            ("Short", "Yes", 4, 10, 11),
            ("Long", "No", 3, 10, 10),
            ("Long", "Yes", 0, 0, 5),
        ]
    )
    assert [(c.row, c.column, c.rate, c.recipients) for c in cells] == [
        ("Long", "No", 0.3, 10),
        ("Long", "Yes", None, 5),
        ("Short", "Yes", 0.3, 21),  # (2 + 4) / (10 + 10)
    ]


# --- Through the API ---------------------------------------------------------------------

# variant: (subject, image, sent, opened, clicked); the clickers are among the openers.
VARIANTS = {
    "A": ("Short", "Yes", 10, 4, 2),
    "B": ("Long", "Yes", 10, 6, 5),
    "C": ("Short", "No", 10, 3, 1),
    "D": ("Long", "No", 10, 5, 3),
    "E": ("Short", "Yes", 10, 5, 4),
}

AB_TEST = """
query($metric: ABMetric, $confidence: Float) {
  campaign(externalId: "spring") {
    abTest(metric: $metric, confidence: $confidence) {
      metric significant
      control { name }
      winner { name }
      comparisons { variant { name } rate liftOverControl pValue probabilityToBeBest }
      heatmap(rowFactor: "subject", columnFactor: "image") { row column rate recipients }
      missing: heatmap(rowFactor: "subject", columnFactor: "colour") { row }
    }
  }
}
"""


async def make_ab_campaign(client, organization, name="spring", variants=VARIANTS):
    await make_campaign(
        client,
        organization,
        name,
        variants=[
            {
                "name": variant,
                "isControl": variant == "A",
                "factors": [
                    {"name": "subject", "value": subject},
                    {"name": "image", "value": image},
                ],
            }
            for variant, (subject, image, *_) in variants.items()
        ],
    )
    events = []
    for variant, (_, _, sent, opened, clicked) in variants.items():
        for number in range(sent):
            email = f"{variant.lower()}{number}@example.com"
            events.append(event("SENT", email, campaign=name, variant=variant))
            if number < opened:
                events.append(event("OPENED", email, campaign=name, variant=variant, minutes=1))
            if number < clicked:
                events.append(event("CLICKED", email, campaign=name, variant=variant, minutes=2))
    assert (await post_events(client, organization, events)).status_code == 200


async def test_ab_test_of_a_campaign(client, organization):
    await make_ab_campaign(client, organization)
    body = await graphql(client, organization, AB_TEST)
    test = body["data"]["campaign"]["abTest"]
    assert test["metric"] == "CLICK_RATE"
    assert test["control"] == {"name": "A"}
    assert test["winner"] == {"name": "B"}
    comparisons = {c["variant"]["name"]: c for c in test["comparisons"]}
    assert {name: c["rate"] for name, c in comparisons.items()} == {
        "A": 0.2,
        "B": 0.5,
        "C": 0.1,
        "D": 0.3,
        "E": 0.4,
    }
    assert comparisons["A"]["pValue"] is None
    assert comparisons["B"]["liftOverControl"] == pytest.approx(1.5)  # (0.5 - 0.2) / 0.2
    assert comparisons["C"]["liftOverControl"] == pytest.approx(-0.5)
    # B vs A: pooled p = 7/20 = 0.35, se = sqrt(0.35 * 0.65 * 0.2) = 0.21331,
    # z = 0.3 / 0.21331 = 1.4064, two-sided p = 0.1596: not significant at 95%.
    assert comparisons["B"]["pValue"] == pytest.approx(0.1596, abs=0.0001)
    assert test["significant"] is False
    best = [c["probabilityToBeBest"] for c in test["comparisons"]]
    assert sum(best) == pytest.approx(1.0, abs=1e-9)
    arms = [Arm(clicked, sent) for (_, _, sent, _, clicked) in VARIANTS.values()]
    sampled = dict(zip(VARIANTS, monte_carlo_best(arms), strict=True))
    for name, comparison in comparisons.items():
        assert comparison["probabilityToBeBest"] == pytest.approx(sampled[name], abs=0.01)
    assert test["heatmap"] == [
        {"row": "Long", "column": "No", "rate": 0.3, "recipients": 10},
        {"row": "Long", "column": "Yes", "rate": 0.5, "recipients": 10},
        {"row": "Short", "column": "No", "rate": 0.1, "recipients": 10},
        {"row": "Short", "column": "Yes", "rate": 0.3, "recipients": 20},  # A and E: 6 / 20
    ]
    assert test["missing"] == []
    # The same data gives the same answer.
    assert (await graphql(client, organization, AB_TEST))["data"] == body["data"]


async def test_other_metrics(client, organization):
    await make_ab_campaign(client, organization)
    body = await graphql(client, organization, AB_TEST, {"metric": "OPEN_RATE"})
    test = body["data"]["campaign"]["abTest"]
    assert [c["rate"] for c in test["comparisons"]] == [0.4, 0.6, 0.3, 0.5, 0.5]
    assert test["winner"] == {"name": "B"}
    body = await graphql(client, organization, AB_TEST, {"metric": "CLICK_TO_OPEN_RATE"})
    rates = [c["rate"] for c in body["data"]["campaign"]["abTest"]["comparisons"]]
    assert rates == pytest.approx([2 / 4, 5 / 6, 1 / 3, 3 / 5, 4 / 5])
    body = await graphql(client, organization, AB_TEST, {"metric": "CONVERSION_RATE"})
    test = body["data"]["campaign"]["abTest"]
    # An open proves delivery, so the openers are the delivered; nobody bought: every rate is 0,
    # and on a tie the earlier variant (the control) wins, not significantly.
    assert [c["rate"] for c in test["comparisons"]] == [0.0] * 5
    assert test["winner"] == {"name": "A"} and test["significant"] is False
    assert [c["pValue"] for c in test["comparisons"]] == [None, 1.0, 1.0, 1.0, 1.0]


async def test_fewer_than_two_variants_is_no_ab_test(client, organization):
    await make_campaign(client, organization, "spring", variants=[{"name": "only"}])
    body = await graphql(client, organization, AB_TEST)
    assert body["data"]["campaign"]["abTest"] is None


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.2])
async def test_bad_confidence_is_a_clear_error(client, organization, confidence):
    await make_ab_campaign(client, organization, variants=dict(list(VARIANTS.items())[:2]))
    body = await graphql(
        client, organization, AB_TEST, {"confidence": confidence}, expect_errors=True
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "confidence" in error["message"]


LIST = """
query { campaigns(first: 20) { edges { node {
  name
  abTest { winner { name } comparisons { variant { name } rate pValue probabilityToBeBest }
           heatmap(rowFactor: "subject", columnFactor: "image") { rate } }
} } } }
"""


async def test_statements_do_not_grow_with_campaigns(client, organization, count_statements):
    two = dict(list(VARIANTS.items())[:2])

    async def statements_for(number: int) -> int:
        for index in range(number):
            await make_ab_campaign(client, organization, f"campaign-{number}-{index}", two)
        with count_statements() as counter:
            body = await graphql(client, organization, LIST)
        for edge in body["data"]["campaigns"]["edges"]:
            assert edge["node"]["abTest"]["winner"] == {"name": "B"}
        return counter.count

    one = await statements_for(1)
    many = await statements_for(3)
    assert many == one
