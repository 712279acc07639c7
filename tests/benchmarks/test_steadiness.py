"""Flicker and reaction (``benchmarks.steadiness``) from crafted label streams, and the choice of expression pairs.

No timing thresholds: the streams carry their own timestamps.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.steadiness import (
    Observation,
    censored_median,
    pick_pairs,
    reaction_stats,
    steady_stats,
    summarize_changes,
)


def test_pairs_are_right_in_their_dataset_crops_and_of_different_labels() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    predicted = np.array([0, 5, 1, 1, 2, 6, 3, 3])  # faces 1 and 5 are classified wrong
    pairs = pick_pairs(labels, predicted, 6, seed=0)
    assert pairs == pick_pairs(labels, predicted, 6, seed=0)
    assert 1 <= len(pairs) <= 3  # 6 faces right, each used once
    used = [i for pair in pairs for i in pair]
    assert len(used) == len(set(used)) and not {1, 5} & set(used)
    assert all(labels[a] != labels[b] for a, b in pairs)
    assert pick_pairs(np.array([2, 2]), np.array([2, 2]), 3, seed=0) == []  # one class only: no pair


# ---------------------------------------------------------------- flicker and reaction


def _stream(labels: list[str | None], fps: float = 10.0, raw: list[str | None] | None = None) -> list[Observation]:
    raw = raw or labels
    return [Observation(i / fps, lab, r, 0 if lab else None) for i, (lab, r) in enumerate(zip(labels, raw,
                                                                                                 strict=True))]


def test_steady_counts_label_changes_per_minute() -> None:
    labels = ["happy"] * 290 + ["fear"] * 5 + ["happy"] * 305  # 60 s at 10 FPS: two changes
    raw = ["happy", "fear"] * 300  # unsmoothed: 599 changes
    stats = steady_stats(_stream(labels, raw=raw))
    assert stats["changes"] == 2 and stats["changes_per_minute"] == pytest.approx(2.0)
    assert stats["label"] == "happy" and stats["raw_changes_per_minute"] == pytest.approx(599.0)
    assert stats["frames"] == stats["frames_with_face"] == 600
    assert steady_stats(_stream([None, None]))["changes_per_minute"] is None


def test_reaction_is_measured_from_the_switch() -> None:
    # 10 FPS, switch at 1.0 s; no face in the first two frames after it; the label follows at 1.4 s
    labels = ["sad"] * 10 + [None, None] + ["sad", "sad"] + ["happy"] * 6
    raw = ["sad"] * 10 + [None, None] + ["happy"] * 8
    result = reaction_stats(_stream(labels, raw=raw), 1.0, "sad", "happy")
    assert result["measured"] and result["classifier_agrees"]
    assert result["reaction_s"] == pytest.approx(0.4) and result["flicker"] == 0
    never = reaction_stats(_stream(["sad"] * 20), 1.0, "sad", "happy")
    assert never["measured"] and never["reaction_s"] is None and never["classifier_agrees"] is False
    assert reaction_stats(_stream(["sad"] * 10 + [None] * 10), 1.0, "sad", "happy")["measured"] is False


def test_a_change_never_followed_counts_as_the_slowest() -> None:
    assert censored_median([0.2, None, 0.4]) == pytest.approx(0.4)
    assert censored_median([0.2, None, None]) is None  # the middle pair is a never
    assert censored_median([0.3, 0.1, None, 0.2]) == pytest.approx(0.25)
    assert censored_median([]) is None

    def pair(reaction: float | None, agrees: bool = True) -> dict:
        return {"measured": True, "reaction_s": reaction, "classifier_agrees": agrees}

    # the followed ones are quick, but two of the four pairs the classifier sees are never followed
    totals = summarize_changes([pair(0.2), pair(0.3), pair(None), pair(None), pair(0.1, agrees=False),
                                {"measured": False, "reaction_s": None, "classifier_agrees": None}])
    assert totals["mean_reaction_s"] == pytest.approx(0.25)  # the followed ones alone would meet 0.5 s
    assert totals["median_all_s"] is None and totals["never"] == 2 and totals["within_target"] == 2
    assert (totals["pairs"], totals["measured"], totals["classifier_agrees"], totals["followed"]) == (6, 5, 4, 2)
    one_never = summarize_changes([pair(0.2), pair(0.6), pair(None)])
    assert one_never["median_all_s"] == pytest.approx(0.6) and one_never["within_target"] == 1
