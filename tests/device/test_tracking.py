"""IoU tracking and per-face smoothing: in the frames' time by default, by frame counts with window/alpha."""

from __future__ import annotations

import numpy as np
import pytest

from device.detector import Box
from device.smoothing import HAPPY, SAD, LabelSmoother, SmoothingConfig
from device.tracking import DEFAULT_MAX_AGE_S, FaceTracker, Tracked, match_boxes, parse_smoothing

NO_FACE = np.zeros((0, 7), np.float32)


def onehot(k: int) -> np.ndarray:
    p = np.full(7, 0.02, np.float32)
    p[k] = 0.88
    return p


def test_ids_follow_moving_faces() -> None:
    tracker = FaceTracker()
    a, b = Box(0, 0, 100, 100), Box(300, 0, 100, 100)
    first = tracker.update([a, b], np.stack([onehot(0), onehot(1)]), 0.0)
    # next frame: both moved a little and come in the other order
    second = tracker.update([Box(310, 5, 100, 100), Box(8, 4, 100, 100)], np.stack([onehot(1), onehot(0)]), 0.1)
    assert [t.track_id for t in first] == [0, 1]
    assert [t.track_id for t in second] == [1, 0]
    assert all(isinstance(t, Tracked) for t in second) and [t.label for t in second] == [1, 0]


def test_greedy_matching_prefers_best_iou() -> None:
    tracks = [Box(0, 0, 100, 100)]
    boxes = [Box(50, 0, 100, 100), Box(5, 0, 100, 100)]
    assert match_boxes(tracks, boxes, 0.3) == {1: 0}


# ---------------------------------------------------------------- tracks expire by time unseen


def unseen_for(tracker: FaceTracker, fps: float, gap: int) -> int:
    """A face at t=0, ``gap`` frames without it, then the face again: its track id."""
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None], 0.0)
    for i in range(1, gap + 1):
        tracker.update([], NO_FACE, i / fps)
    return tracker.update([Box(1, 1, 50, 50)], onehot(3)[None], (gap + 1) / fps)[0].track_id


@pytest.mark.parametrize(
    ("fps", "gap", "survives"),
    [(10.0, 5, True), (10.0, 6, False), (30.0, 15, True), (30.0, 16, False), (60.0, 30, True), (60.0, 31, False)],
)
def test_a_track_survives_half_a_second_unseen_at_any_frame_rate(fps: float, gap: int, survives: bool) -> None:
    """0.5 s unseen survives, more ends the track: 5 frames at 10 FPS (the earlier max_missed), 30 at 60 FPS
    (where 5 missed frames would have ended it after 0.08 s)."""
    tracker = FaceTracker()
    track_id = unseen_for(tracker, fps, gap)
    assert track_id == (0 if survives else 1)
    assert gap / fps <= DEFAULT_MAX_AGE_S + 1e-9 if survives else gap / fps > DEFAULT_MAX_AGE_S


def test_one_missed_frame_never_ends_a_track_at_a_slow_frame_rate() -> None:
    """At 1 FPS a single missed detection is a second unseen: the track survives it, not a second one."""
    assert unseen_for(FaceTracker(), 1.0, 1) == 0
    assert unseen_for(FaceTracker(), 1.0, 2) == 1


def test_expired_tracks_are_dropped() -> None:
    tracker = FaceTracker(max_age=0.2)
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None], 0.0)
    for i in range(1, 4):
        tracker.update([], NO_FACE, i / 10)
    assert tracker.tracks == []


# ---------------------------------------------------------------- smoothing in time


def test_each_track_is_smoothed_in_the_frames_time() -> None:
    """The tracker feeds each track's LabelSmoother with the frame times it is given."""
    tracker = FaceTracker()
    reference = LabelSmoother(SmoothingConfig())
    box = Box(100, 100, 80, 80)
    rng = np.random.default_rng(0)
    for i in range(30):
        probs = rng.dirichlet(np.ones(7)).astype(np.float32)
        (tracked,) = tracker.update([box], probs[None], 7.0 + i / 15)
        expected, label = reference.update(7.0 + i / 15, probs)
        np.testing.assert_array_equal(tracked.probabilities, expected)
        assert tracked.label == label


def test_a_flickering_face_keeps_its_label() -> None:
    """The raw label flickers (happy, happy, sad, ...) at 10 FPS: one label throughout, probabilities sum to 1."""
    tracker = FaceTracker()
    labels = []
    for i in range(40):
        raw = onehot(SAD if i % 3 == 2 else HAPPY)
        ((_, smooth, label),) = tracker.update([Box(100, 100, 80, 80)], raw[None], i / 10)
        labels.append(label)
        np.testing.assert_allclose(smooth.sum(), 1.0, atol=1e-5)
    assert labels == [HAPPY] * 40


def test_the_same_frames_faster_in_time_are_smoothed_less() -> None:
    """Time, not frame count: the same 4 frames of a change, 1/60 s apart, move the average less than 1/10 s
    apart (the frame-count smoothing gave both the same)."""

    def after_change(fps: float) -> float:
        tracker = FaceTracker(smoothing=SmoothingConfig(margin=0.0, hold=0.0))
        for i in range(10):
            tracker.update([Box(0, 0, 50, 50)], onehot(HAPPY)[None], i / fps)
        for i in range(10, 14):
            ((_, smooth, _),) = tracker.update([Box(0, 0, 50, 50)], onehot(SAD)[None], i / fps)
        return float(smooth[SAD])

    assert after_change(10.0) > after_change(60.0) + 0.2


def test_time_going_back_starts_the_tracks_afresh() -> None:
    """A looped video or a restarted clock: tracks (and their averages) start anew; the ids keep counting."""
    tracker = FaceTracker()
    for i in range(10):
        tracker.update([Box(0, 0, 50, 50)], onehot(HAPPY)[None], 5.0 + i / 10)
    ((track_id, smooth, label),) = tracker.update([Box(0, 0, 50, 50)], onehot(SAD)[None], 0.0)
    assert track_id == 1 and label == SAD
    np.testing.assert_array_equal(smooth, onehot(SAD))


@pytest.mark.parametrize("timestamp", [3.0, None, float("nan")])
def test_duplicate_or_missing_timestamps_keep_the_track(timestamp) -> None:
    """The same time twice (a coarse clock), no time (None: the tracker's monotonic clock) or NaN: no crash, the
    same track, probabilities still a distribution."""
    tracker = FaceTracker()
    results = [tracker.update([Box(0, 0, 50, 50)], onehot(k)[None], timestamp)[0] for k in (HAPPY, HAPPY, SAD)]
    assert [r.track_id for r in results] == [0, 0, 0]
    for r in results:
        assert np.all(np.isfinite(r.probabilities)) and r.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_smoothing_off() -> None:
    tracker = FaceTracker(smoothing=SmoothingConfig(tau=0.0))
    for i, k in enumerate([HAPPY, SAD, HAPPY]):
        ((_, smooth, label),) = tracker.update([Box(0, 0, 50, 50)], onehot(k)[None], i / 30)
        np.testing.assert_array_equal(smooth, onehot(k))
        assert label == k


def test_reset_forgets_tracks_and_their_history_but_not_the_ids() -> None:
    tracker = FaceTracker()
    tracker.update([Box(0, 0, 50, 50)], onehot(3)[None], 0.0)
    tracker.reset()
    ((track_id, smooth, label),) = tracker.update([Box(0, 0, 50, 50)], onehot(1)[None], 0.1)
    assert track_id == 1  # a fresh track, never a reused id
    np.testing.assert_array_equal(smooth, onehot(1))  # its own scores, nothing averaged in
    assert label == 1


# ---------------------------------------------------------------- the earlier frame-count smoothing (--smoothing)


def test_moving_average_over_frames_is_unchanged() -> None:
    """``window=5``: the mean of the last 5 frames whatever their times (what benchmarks/pipeline_bench uses)."""
    tracker = FaceTracker(window=5)
    labels = []
    for i in range(20):  # the raw label flickers: happy, happy, sad, happy, happy, sad, ...
        raw = onehot(4 if i % 3 == 2 else 3)
        ((_, smooth, label),) = tracker.update([Box(100, 100, 80, 80)], raw[None], i / 10)
        labels.append(label)
        np.testing.assert_allclose(smooth.sum(), 1.0, atol=1e-5)
        assert label == int(np.argmax(smooth))
    assert labels == [3] * 20
    tracker = FaceTracker(window=2)
    tracker.update([Box(0, 0, 10, 10)], onehot(0)[None], 0.0)
    ((_, smooth, _),) = tracker.update([Box(0, 0, 10, 10)], onehot(1)[None], 99.0)
    np.testing.assert_allclose(smooth, (onehot(0) + onehot(1)) / 2, atol=1e-6)


def test_ema_per_frame() -> None:
    tracker = FaceTracker(alpha=0.5)
    tracker.update([Box(0, 0, 10, 10)], onehot(0)[None], 0.0)
    ((_, smooth, _),) = tracker.update([Box(0, 0, 10, 10)], onehot(1)[None], 0.001)
    np.testing.assert_allclose(smooth, 0.5 * onehot(0) + 0.5 * onehot(1), atol=1e-6)


def test_frame_and_time_smoothing_do_not_combine() -> None:
    with pytest.raises(ValueError, match="not both"):
        FaceTracker(window=5, smoothing=SmoothingConfig())
    with pytest.raises(ValueError, match="window 0"):
        FaceTracker(window=0)
    with pytest.raises(ValueError, match="alpha"):
        FaceTracker(alpha=1.5)


@pytest.mark.parametrize(
    ("text", "expected"), [("5", (5, None)), ("1", (1, None)), ("0", (1, None)), ("0.3", (1, 0.3))]
)
def test_parse_smoothing(text: str, expected) -> None:
    assert parse_smoothing(text) == expected


@pytest.mark.parametrize("text", ["-1", "2.5", "abc"])
def test_parse_smoothing_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a window"):
        parse_smoothing(text)
