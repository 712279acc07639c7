"""train.study_report: the study's statistics, its answer in words and the report formats it owns."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import study_metrics

from train.study_report import (
    CLAIMS,
    aggregate,
    answer,
    budget_answer,
    budgets_answer,
    paired_interval,
    render,
    render_budgets,
)


def test_paired_interval_matches_t_distribution():
    mean, lo, hi = paired_interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0
    assert (hi - lo) / 2 == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) * s / sqrt(n)


def test_aggregate_and_answer():
    metrics = {
        "unweighted": {0: study_metrics(0.60, 0.40), 1: study_metrics(0.61, 0.42), 2: study_metrics(0.59, 0.41)},
        "weighted": {0: study_metrics(0.58, 0.30), 1: study_metrics(0.585, 0.31), 2: study_metrics(0.57, 0.29)},
    }
    summary = aggregate(metrics, "val")
    assert summary["seeds"] == [0, 1, 2]
    assert summary["variants"]["unweighted"]["accuracy"]["mean"] == pytest.approx(60.0)
    assert summary["paired"]["accuracy"]["mean"] == pytest.approx(-2.1666667)
    assert summary["paired"]["accuracy"]["ci95"][1] < 0
    text = answer(summary)
    assert "weights lower" in text and "outside our interval" in text
    meta = {"recipe": "tiny", "epochs": 1, "created": "now", "host": "h", "platform": "p", "command": "c"}
    md = render(summary, meta)
    for claim in CLAIMS:
        assert claim in md


def _budget(epochs, acc, bal, ph, fixed=None):
    pair = lambda m, lo, hi: {"mean": m, "ci95": [lo, hi]}  # noqa: E731
    return {"epochs": epochs, "seeds": [0, 1, 2], "split": "val", "accuracy": pair(*acc),
            "balanced_accuracy": pair(*bal), "unweighted_accuracy": 60.0, "weighted_accuracy": 57.0,
            "posthoc": ph and {"accuracy_diff": pair(*ph), "tau": [0.5, 0.6, 0.7],
                               "fixed": fixed and {"tau": 1.0, "accuracy_diff": pair(*fixed[0]),
                                                   "balanced_accuracy_diff": pair(*fixed[1])}}}


def test_the_budgets_answer_in_words_follows_each_interval():
    """Every verdict of the README's plain-words answer comes from an interval: below zero, above it, or holding
    it; the shortest and longest budgets are compared by whether their intervals overlap."""
    clear = _budget(16, (-4.2, -6.4, -2.0), (3.1, 0.3, 5.9), (-2.0, -3.0, -1.0))
    text = budget_answer(clear)
    assert "At 16 epochs (3 seeds), class weights cost 4.2 pp of accuracy (95% interval -6.4 to -2.0)" in text
    assert "bought 3.1 pp of balanced accuracy" in text
    assert "the weighted model beats the knob here" in text and "reaches it: 0.5, 0.6, 0.7, per seed" in text
    assert "no tau up to 2" not in text
    clear["posthoc"]["unreached"] = [2]
    assert "(on seed 2 no tau up to 2 reached that balance; the closest was used)." in budget_answer(clear)
    del clear["posthoc"]["unreached"]
    assert "At tau 1" not in text, "a report from before the fixed tau was measured says nothing of it"
    text = budget_answer(_budget(16, (-4.2, -6.4, -2.0), (3.1, 0.3, 5.9), (-2.0, -3.0, -1.0),
                                 fixed=((3.2, 1.0, 5.4), (0.4, -0.8, 1.6))))
    assert ("At tau 1 for every seed (fixed in advance: the uniform prior the weights train toward), the corrected "
            "unweighted model was 3.2 pp ahead in accuracy (95% interval +1.0 to +5.4) and was +0.4 pp in balanced "
            "accuracy, not clearly either way (95% interval -0.8 to +1.6) against the weighted model.") in text
    unclear = _budget(64, (-0.4, -1.5, +0.7), (-0.2, -1.0, 0.6), (1.0, -2.0, 4.0))
    text = budget_answer(unclear)
    assert "changed accuracy by -0.4 pp, not clearly either way (95% interval -1.5 to +0.7)" in text
    assert "changed balanced accuracy by -0.2 pp, not clearly either way" in text
    assert "neither is clearly ahead over 3 seeds" in text
    assert "the knob beats the weighted model here" in budget_answer(_budget(32, (1.0, 0.5, 1.5), (1, 0.1, 2),
                                                                             (2.0, 1.0, 3.0)))
    assert "added 1.0 pp of accuracy" in budget_answer(_budget(32, (1.0, 0.5, 1.5), (1, 0.1, 2), None))
    assert "not measured at this budget" in budget_answer(_budget(32, (1.0, 0.5, 1.5), (1, 0.1, 2), None))
    both = {"budgets": [clear, unclear], "pending": [{"epochs": 128, "runs_left": 6}],
            "meta": {"recipe": "compact", "command": "c", "host": "h", "platform": "p", "created": "now"}}
    text = budgets_answer(both)
    assert ("From 16 to 64 epochs the accuracy difference went from -4.2 to -0.4 pp; their intervals do not "
            "overlap") in text
    assert text.endswith("Not trained yet: 128 epochs.")
    both["budgets"][1]["accuracy"]["ci95"] = [-2.5, 0.7]
    assert "their intervals overlap" in budgets_answer(both)
    assert render_budgets(both).splitlines()[2] == budgets_answer(both), "budgets.md opens with the answer in words"
