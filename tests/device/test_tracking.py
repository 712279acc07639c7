"""IoU tracking and per-face probability smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from device.detector import Box
from device.tracking import FaceTracker, match_boxes, parse_smoothing


def onehot(k: int) -> np.ndarray:
    p = np.full(7, 0.02, np.float32)
    p[k] = 0.88
    return p


def test_ids_follow_moving_faces() -> None:
    tracker = FaceTracker(window=1)
    a, b = Box(0, 0, 100, 100), Box(300, 0, 100, 100)
    first = tracker.update([a, b], np.stack([onehot(0), onehot(1)]))
    # next frame: both moved a little and come in the other order
    second = tracker.update([Box(310, 5, 100, 100), Box(8, 4, 100, 100)], np.stack([onehot(1), onehot(0)]))
    assert [t for t, _ in first] == [0, 1]
    assert [t for t, _ in second] == [1, 0]


def test_new_face_new_id_and_lost_tracks_expire() -> None:
    tracker = FaceTracker(window=1, max_missed=2)
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None])
    for _ in range(3):
        tracker.update([], np.zeros((0, 7), np.float32))
    assert tracker.tracks == []
    ((track_id, _),) = tracker.update([Box(0, 0, 50, 50)], onehot(3)[None])
    assert track_id == 1  # the old track expired: a fresh id


def test_short_gap_keeps_the_id() -> None:
    tracker = FaceTracker(window=1, max_missed=2)
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None])
    tracker.update([], np.zeros((0, 7), np.float32))
    assert tracker.update([Box(2, 2, 50, 50)], onehot(3)[None])[0][0] == 0


def test_moving_average_stops_flicker() -> None:
    tracker = FaceTracker(window=5)
    labels = []
    for i in range(20):  # the raw label flickers: happy, happy, sad, happy, happy, sad, ...
        raw = onehot(4 if i % 3 == 2 else 3)
        ((_, smooth),) = tracker.update([Box(100, 100, 80, 80)], raw[None])
        labels.append(int(np.argmax(smooth)))
        np.testing.assert_allclose(smooth.sum(), 1.0, atol=1e-5)
    assert labels == [3] * 20


def test_ema() -> None:
    tracker = FaceTracker(alpha=0.5)
    tracker.update([Box(0, 0, 10, 10)], onehot(0)[None])
    ((_, smooth),) = tracker.update([Box(0, 0, 10, 10)], onehot(1)[None])
    np.testing.assert_allclose(smooth, 0.5 * onehot(0) + 0.5 * onehot(1), atol=1e-6)


def test_greedy_matching_prefers_best_iou() -> None:
    tracks = [Box(0, 0, 100, 100)]
    boxes = [Box(50, 0, 100, 100), Box(5, 0, 100, 100)]
    assert match_boxes(tracks, boxes, 0.3) == {1: 0}


@pytest.mark.parametrize(
    ("text", "expected"), [("5", (5, None)), ("1", (1, None)), ("0", (1, None)), ("0.3", (1, 0.3))]
)
def test_parse_smoothing(text: str, expected) -> None:
    assert parse_smoothing(text) == expected


@pytest.mark.parametrize("text", ["-1", "2.5", "abc"])
def test_parse_smoothing_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a window"):
        parse_smoothing(text)


@pytest.mark.parametrize(("max_missed", "gap", "survives"), [(2, 2, True), (2, 3, False), (0, 0, True), (0, 1, False)])
def test_a_track_survives_exactly_max_missed_unseen_frames(max_missed: int, gap: int, survives: bool) -> None:
    tracker = FaceTracker(window=1, max_missed=max_missed)
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None])
    for _ in range(gap):
        tracker.update([], np.zeros((0, 7), np.float32))
    assert len(tracker.tracks) == (1 if survives else 0)
    ((track_id, _),) = tracker.update([Box(1, 1, 50, 50)], onehot(3)[None])
    assert track_id == (0 if survives else 1)


def test_reset_forgets_tracks_and_their_history_but_not_the_ids() -> None:
    tracker = FaceTracker(window=5)
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None])
    tracker.reset()
    ((track_id, smooth),) = tracker.update([Box(0, 0, 50, 50)], onehot(1)[None])
    assert track_id == 1  # a fresh track, never a reused id
    np.testing.assert_array_equal(smooth, onehot(1))  # its own scores, nothing averaged in
