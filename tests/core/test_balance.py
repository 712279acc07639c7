"""core.balance: the prior-correction knob."""

from __future__ import annotations

import numpy as np
import pytest

from core.balance import (
    adjust,
    check_tau,
    curve_table,
    first_reaching,
    mean_curve,
    prior_vector,
    priors_from_counts,
    tradeoff_curve,
)
from core.labels import EMOTIONS
from core.metrics import classification_metrics

FER_TRAIN = [3995, 436, 4097, 7215, 4830, 3171, 4965]


def test_priors_from_the_training_counts():
    priors = priors_from_counts(FER_TRAIN)
    assert list(priors) == list(EMOTIONS)
    assert priors["disgust"] == pytest.approx(436 / 28709, abs=1e-6)
    np.testing.assert_allclose(prior_vector(priors).sum(), 1.0)
    with pytest.raises(ValueError, match="positive counts"):
        priors_from_counts([1, 0, 1, 1, 1, 1, 1])


def test_adjust_divides_out_the_prior_by_tau():
    priors = prior_vector(priors_from_counts(FER_TRAIN))
    probs = np.array([[0.1, 0.05, 0.1, 0.4, 0.15, 0.1, 0.1]])
    np.testing.assert_array_equal(adjust(probs, priors, 0.0), probs.astype(np.float32))
    full = adjust(probs, priors, 1.0)
    expected = probs / priors
    np.testing.assert_allclose(full, expected / expected.sum(), rtol=1e-6)
    half = adjust(probs, priors, 0.5)
    assert full[0, 1] > half[0, 1] > probs[0, 1]  # disgust, the rarest class, gains the most
    assert full.argmax() == 1 and probs.argmax() == 3  # at tau 1 the rare class wins this face


@pytest.mark.parametrize("bad", [-0.1, 2.5, float("nan"), float("inf"), "0.5"])
def test_tau_outside_0_to_2_is_refused(bad):
    with pytest.raises(ValueError, match="expected a number from 0"):
        check_tau(bad)


def test_missing_priors_are_refused():
    with pytest.raises(ValueError, match="expected a share > 0"):
        prior_vector({"angry": 0.5})


PRIORS = prior_vector(priors_from_counts([3995, 436, 4097, 7215, 4830, 3171, 4965]))


def _scores(seed: int = 0, n: int = 700) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(7, size=n, p=PRIORS)
    logits = rng.normal(0, 1, size=(n, 7)) + 1.5 * np.eye(7)[y] + np.log(PRIORS)  # a prior-biased model
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), y


def test_each_curve_row_is_the_corrected_scores_metrics():
    probs, y = _scores()
    rows = tradeoff_curve(probs, y, PRIORS, (0.0, 0.5, 1.0))
    for row in rows:
        m = classification_metrics(y, adjust(probs, PRIORS, row["tau"]))
        assert row["accuracy"] == m["accuracy"] and row["balanced_accuracy"] == m["balanced_accuracy"]
        assert row["recall"]["disgust"] == m["per_class"]["disgust"]["recall"]
    assert rows[0]["accuracy"] == classification_metrics(y, probs)["accuracy"]
    assert rows[-1]["recall"]["disgust"] > rows[0]["recall"]["disgust"], "correction finds more rare faces"


def test_the_mean_curve_averages_each_figure_at_each_tau():
    curves = [tradeoff_curve(*_scores(seed), PRIORS, (0.0, 1.0)) for seed in range(3)]
    mean = mean_curve(curves)
    assert [r["tau"] for r in mean] == [0.0, 1.0]
    for i, row in enumerate(mean):
        accs = [c[i]["accuracy"] for c in curves]
        assert row["accuracy"] == pytest.approx(np.mean(accs))
        assert row["sd"]["accuracy"] == pytest.approx(np.std(accs, ddof=1)) and row["sd"]["accuracy"] > 0
        assert row["recall"]["fear"] == pytest.approx(np.mean([c[i]["recall"]["fear"] for c in curves]))
    assert mean_curve(curves[:1])[0]["sd"]["accuracy"] == 0.0
    with pytest.raises(ValueError, match="same taus"):
        mean_curve([curves[0], tradeoff_curve(*_scores(), PRIORS, (0.0, 0.5))])
    table = curve_table(mean)
    assert table[2].startswith(f"| 0.0 | {100 * mean[0]['accuracy']:.1f} | ") and len(table) == 4


def test_the_matching_tau_is_the_first_crossing_not_a_later_one():
    """Balanced accuracy can rise and fall again as tau grows; the match is the least correction that reaches the
    target, not the far side of the curve where accuracy has collapsed (seed 0 of the 16-epoch study did this)."""
    rows = [{"tau": t, "balanced_accuracy": b, "accuracy": a} for t, b, a in
            [(0.0, 0.525, 0.598), (1.0, 0.548, 0.591), (1.1, 0.553, 0.588), (1.5, 0.567, 0.566), (1.85, 0.5525, 0.524)]]
    row, reached = first_reaching(rows, 0.552)
    assert reached and row["tau"] == 1.1, "|0.5525 - 0.552| is closer, but it is the far side"
    row, reached = first_reaching(rows, 0.60)
    assert not reached and row["tau"] == 1.5, "out of reach: the closest, the curve's highest"
    assert first_reaching(rows, 0.50) == (rows[0], True), "already there as trained"
