"""Time-based label smoothing (device.smoothing): the issue's targets on synthetic streams at 10, 30 and 60 FPS,
frame-rate independence, hysteresis, odd timestamps, and the measures the benchmark calls.

Where a test is about time, it also runs the earlier frame-count smoothing (``FrameSmoother(window=5)``, the
old default) on the same stream and shows that it fails there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.labels import EMOTIONS
from device.smoothing import (
    ANGRY,
    HAPPY,
    NOISE_MODELS,
    SAD,
    TARGET_FLICKER_PER_MINUTE,
    TARGET_REACTION_S,
    Expression,
    FrameSmoother,
    LabelSmoother,
    LabelStats,
    RawLabels,
    SmoothingConfig,
    evaluate_faces,
    evaluate_labels,
    evaluate_stream,
    measure,
    smoothed_labels,
    synthetic_stream,
)

FRAME_RATES = (10.0, 30.0, 60.0)


def old_default() -> FrameSmoother:
    return FrameSmoother(window=5)


def clean(k: int, top: float = 0.88) -> np.ndarray:
    p = np.full(7, (1 - top) / 6, np.float32)
    p[k] = top
    return p


def step_stream(fps: float, change_at: float = 2.0, duration: float = 4.0) -> tuple[np.ndarray, np.ndarray, list]:
    """A noise-free change from happy to sad at ``change_at`` seconds."""
    times = np.arange(int(round(duration * fps))) / fps
    truth = [HAPPY if t < change_at - 1e-9 else SAD for t in times]
    return times, np.stack([clean(k) for k in truth]), truth


# ---------------------------------------------------------------- the targets


@pytest.mark.parametrize("noise", NOISE_MODELS)
@pytest.mark.parametrize("fps", FRAME_RATES)
def test_a_steady_face_flickers_at_most_10_times_a_minute(fps: float, noise: str) -> None:
    """The calm smiling face (happy 60 % of frames, fear the rest), 4 minutes: the defaults stay under the target
    at every frame rate; the earlier 5-frame mean is far above it."""
    steady, _ = measure(SmoothingConfig(), fps, episode_s=NOISE_MODELS[noise])
    assert steady.flicker_per_minute <= TARGET_FLICKER_PER_MINUTE, steady
    assert steady.accuracy >= 0.75, steady  # holding still is not holding on to the wrong label
    old, _ = measure(old_default, fps, episode_s=NOISE_MODELS[noise])
    assert old.flicker_per_minute > 5 * TARGET_FLICKER_PER_MINUTE, old


@pytest.mark.parametrize("noise", NOISE_MODELS)
@pytest.mark.parametrize("fps", FRAME_RATES)
def test_a_real_change_is_followed_within_half_a_second(fps: float, noise: str) -> None:
    """From a calm face to a clear, different expression: every change (4 seeds) followed within 0.5 s. Changes
    whose new expression competes with a class the calm face already showed are slower (see the module's table)
    but followed in the end."""
    _, steps = measure(SmoothingConfig(), fps, episode_s=NOISE_MODELS[noise])
    distinct = steps["distinct"]
    assert len(distinct.reactions_s) == 4 and distinct.worst_reaction_s <= TARGET_REACTION_S, distinct
    for name in ("shared confusable", "old becomes confusable"):
        assert steps[name].worst_reaction_s <= 1.5, (name, steps[name])
        assert steps[name].median_reaction_s <= 1.0, (name, steps[name])


# ---------------------------------------------------------------- frame-rate independence


@pytest.mark.parametrize(("fps", "other"), [(10.0, 60.0), (10.0, 30.0), (30.0, 60.0)])
def test_the_same_change_is_followed_alike_at_any_frame_rate(fps: float, other: float) -> None:
    """A noise-free change: the defaults follow it after the same time, within one frame interval at the lower
    rate; the 5-frame mean spans 0.5 s at 10 FPS and 0.08 s at 60 FPS, so its reaction depends on the rate."""

    def reaction(smoothing, rate: float) -> float:
        times, probs, truth = step_stream(rate)
        (seconds,) = evaluate_stream(times, probs, truth, smoothing).reactions_s
        return seconds

    new = reaction(SmoothingConfig(), fps), reaction(SmoothingConfig(), other)
    assert abs(new[0] - new[1]) <= 1 / fps + 1e-9, new
    assert max(new) <= TARGET_REACTION_S
    old = reaction(old_default, fps), reaction(old_default, other)
    assert abs(old[0] - old[1]) > 1 / fps, old


def test_flicker_and_reaction_are_near_identical_at_10_and_60_fps() -> None:
    """Confusion in episodes of 0.1 s (the same noise in time at both rates): the defaults give about the same
    flicker and reaction at 10 and 60 FPS; the 5-frame mean flickers three times as often at 60 FPS."""
    episodes = NOISE_MODELS["confusion in 0.1 s episodes"]
    (steady10, steps10), (steady60, steps60) = (measure(SmoothingConfig(), fps, episode_s=episodes)
                                                for fps in (10.0, 60.0))
    assert abs(steady10.flicker_per_minute - steady60.flicker_per_minute) <= 3.0, (steady10, steady60)
    assert abs(steps10["distinct"].median_reaction_s - steps60["distinct"].median_reaction_s) <= 0.1
    old10, _ = measure(old_default, 10.0, episode_s=episodes)
    old60, _ = measure(old_default, 60.0, episode_s=episodes)
    assert old60.flicker_per_minute > 2.5 * old10.flicker_per_minute, (old10, old60)


def test_uneven_frame_times_change_nothing() -> None:
    """A camera's frames do not come at exact intervals: frame times jittered by up to 80 % of an interval give
    the same targets (the weights follow each frame's own dt)."""
    steady = evaluate_stream(*synthetic_stream(30.0, 60.0, [(0.0, Expression(HAPPY, 2))], jitter=0.8, seed=5))
    assert steady.flicker_per_minute <= TARGET_FLICKER_PER_MINUTE
    change = [(0.0, Expression(6, SAD)), (5.0, Expression(HAPPY, 2, 0.9, 0.8))]
    step = evaluate_stream(*synthetic_stream(30.0, 10.0, change, jitter=0.8, seed=6))
    assert step.worst_reaction_s <= TARGET_REACTION_S


# ---------------------------------------------------------------- hysteresis


def run(smoother, times, probs) -> list[int]:
    return [smoother.update(t, p)[1] for t, p in zip(times, probs, strict=True)]


@pytest.mark.parametrize("fps", [5.0, 10.0, 30.0, 60.0])
def test_a_single_confident_wrong_frame_never_changes_the_label(fps: float) -> None:
    times = np.arange(int(3 * fps)) / fps
    probs = [clean(HAPPY)] * len(times)
    probs[len(times) // 2] = clean(ANGRY, 0.999)
    assert set(run(LabelSmoother(), times, probs)) == {HAPPY}


@pytest.mark.parametrize("fps", FRAME_RATES)
def test_a_burst_shorter_than_the_hold_never_changes_the_label(fps: float) -> None:
    """50 ms of a wrong expression (3 frames at 60 FPS): never shown. The 5-frame mean shows it at 60 FPS."""
    times = np.arange(int(3 * fps)) / fps
    probs = [clean(ANGRY) if 1.0 <= t < 1.05 else clean(HAPPY) for t in times]
    assert set(run(LabelSmoother(), times, probs)) == {HAPPY}
    if fps == 60.0:
        assert ANGRY in run(old_default(), times, probs)


@pytest.mark.parametrize("fps", FRAME_RATES)
def test_a_sustained_change_takes_over_after_the_hold_and_within_half_a_second(fps: float) -> None:
    config = SmoothingConfig()
    times, probs, _ = step_stream(fps)
    labels = run(LabelSmoother(config), times, probs)
    first_sad = times[labels.index(SAD)]
    assert first_sad - 2.0 >= config.hold - 1e-9  # the challenger led for the hold first
    assert first_sad - 2.0 <= TARGET_REACTION_S
    assert labels[labels.index(SAD):] == [SAD] * (len(labels) - labels.index(SAD))  # and it stays


def test_margin_and_hold_zero_is_the_smoothed_arg_max() -> None:
    times, probs, _ = synthetic_stream(30.0, 5.0, [(0.0, Expression(HAPPY, SAD))], seed=3)
    smoother = LabelSmoother(SmoothingConfig(tau=0.2, margin=0.0, hold=0.0, settle=0.0))
    for t, p in zip(times, probs, strict=True):
        smoothed, label = smoother.update(t, p)
        assert label == int(np.argmax(smoothed))


def test_an_ambiguous_face_does_not_keep_a_wrong_first_label() -> None:
    """The calm face's first frame says fear: with the margin alone the label could stay fear (the true class
    never leads by the margin); the slow rule hands it to happy within seconds."""
    times, probs, _ = synthetic_stream(30.0, 20.0, [(0.0, Expression(HAPPY, 2))], seed=0)
    probs[0] = clean(2)
    labels = run(LabelSmoother(), times, probs)
    assert labels[0] == 2 and np.mean(np.array(labels[-300:]) == HAPPY) > 0.9
    locked = run(LabelSmoother(SmoothingConfig(settle=0.0)), times, probs)
    assert np.mean(np.array(locked) == 2) > 0.5


# ---------------------------------------------------------------- time: media time, odd timestamps


def test_the_average_runs_in_time_not_frames() -> None:
    """A frame dt seconds after the previous one weighs 1 - exp(-dt / tau), whatever the frame rate; the
    reported probabilities are the softmax of the averaged log-probabilities."""
    tau = 0.2
    smoother = LabelSmoother(SmoothingConfig(tau=tau))
    a, b = clean(HAPPY, 0.6), clean(SAD, 0.6)
    smoother.update(10.0, a)
    smoothed, _ = smoother.update(10.05, b)
    w = 1 - math.exp(-0.05 / tau)
    expected = np.exp((1 - w) * np.log(a) + w * np.log(b))
    np.testing.assert_allclose(smoothed, expected / expected.sum(), rtol=1e-5)
    old = old_default()
    old.update(10.0, a)
    assert not np.allclose(old.update(10.05, b)[0], expected / expected.sum(), atol=1e-3)


def test_duplicate_timestamps_count_as_one_observation() -> None:
    """Two frames with the same time (a coarse clock) weigh together what one frame at that time weighs."""
    a, b, c = clean(HAPPY, 0.6), clean(SAD, 0.6), clean(ANGRY, 0.6)
    twice = LabelSmoother()
    twice.update(0.0, a)
    twice.update(0.1, b)
    merged, _ = twice.update(0.1, c)
    once = LabelSmoother()
    once.update(0.0, a)
    geometric = np.exp((np.log(b) + np.log(c)) / 2)
    expected, _ = once.update(0.1, geometric)
    np.testing.assert_allclose(merged, expected, rtol=1e-5)
    assert np.all(np.isfinite(merged))


@pytest.mark.parametrize("timestamp", [0.5, -3.0, math.nan, math.inf])
def test_time_going_back_or_not_finite_restarts_without_crashing(timestamp: float) -> None:
    smoother = LabelSmoother()
    for i in range(20):
        smoother.update(1.0 + i / 10, clean(HAPPY))
    smoothed, label = smoother.update(timestamp, clean(SAD))
    np.testing.assert_array_equal(smoothed, clean(SAD))  # a fresh start: the frame as it is
    assert label == SAD
    smoothed, label = smoother.update(timestamp + 0.1 if math.isfinite(timestamp) else 5.0, clean(SAD))
    assert label == SAD and np.all(np.isfinite(smoothed))


def test_tau_zero_is_off() -> None:
    smoother = LabelSmoother(SmoothingConfig(tau=0.0))
    for i, k in enumerate([HAPPY, SAD, HAPPY, ANGRY]):
        smoothed, label = smoother.update(i / 30, clean(k))
        np.testing.assert_array_equal(smoothed, clean(k))
        assert label == k


@pytest.mark.parametrize(
    "kwargs", [{"tau": -0.1}, {"tau": math.nan}, {"margin": math.inf}, {"hold": -1.0}, {"tau": 1e9}, {"settle": -1}]
)
def test_config_rejects_bad_values(kwargs) -> None:
    with pytest.raises(ValueError, match=f"smoothing {next(iter(kwargs))}"):
        SmoothingConfig(**kwargs)


# ---------------------------------------------------------------- the measures and the benchmark hook


def test_flicker_and_reaction_on_a_hand_made_sequence() -> None:
    """10 FPS, truth happy for 1 s then sad for 1 s. Shown: happy, one sad frame (flicker), happy, then sad
    0.3 s after the change (the reaction), one happy frame in the sad part (two more flicker changes)."""
    h, s = "happy", "sad"
    times = np.arange(20) / 10
    truth = [h] * 10 + [s] * 10
    shown = [h, h, h, s, h, h, h, h, h, h] + [h, h, h, s, s, s, h, s, s, s]
    stats = evaluate_labels(times, shown, truth)
    assert stats.changes == 5 and stats.flicker == 4
    assert stats.reactions_s == pytest.approx((0.3,))
    assert stats.duration_s == pytest.approx(2.0)
    assert stats.flicker_per_minute == pytest.approx(120.0)
    assert stats.accuracy == pytest.approx(15 / 20)


def test_a_wrong_first_label_corrected_once_is_not_flicker() -> None:
    stats = evaluate_labels([0.0, 0.1, 0.2, 0.3], ["fear", "fear", "happy", "happy"], ["happy"] * 4)
    assert stats.changes == 1 and stats.flicker == 0 and stats.reactions_s == ()


def test_a_change_never_followed_is_none_and_the_worst_is_inf() -> None:
    stats = evaluate_labels([0.0, 0.1, 0.2, 0.3], [3, 3, 3, 3], [3, 3, 4, 4])
    assert stats.reactions_s == (None,) and stats.worst_reaction_s == math.inf


def test_evaluate_faces_is_the_benchmark_hook() -> None:
    """Per face: frames as (timestamp, probabilities) and the truth per frame; totals over faces. Smoothing:
    None (defaults), a SmoothingConfig, or a smoother factory (e.g. the earlier 5-frame mean, or none)."""
    faces = []
    for seed in range(3):
        times, probs, truth = synthetic_stream(
            15.0, 10.0, [(0.0, Expression(6, 4)), (5.0, Expression(HAPPY, 2, 0.9, 0.8))], seed=seed
        )
        faces.append(([(float(t), p) for t, p in zip(times, probs, strict=True)], [EMOTIONS[k] for k in truth]))
    total = evaluate_faces(faces)
    assert isinstance(total, LabelStats) and total.frames == 450 and len(total.reactions_s) == 3
    assert total.duration_s == pytest.approx(30.0)
    assert total.worst_reaction_s <= TARGET_REACTION_S and total.flicker_per_minute <= 20
    assert evaluate_faces(faces, SmoothingConfig()) == total
    raw = evaluate_faces(faces, RawLabels)
    assert raw.changes_per_minute > 10 * max(total.changes_per_minute, 1.0)
    assert evaluate_faces(faces, old_default).frames == 450
    times, probs = [t for t, _ in faces[0][0]], [p for _, p in faces[0][0]]
    assert len(smoothed_labels(times, probs)) == 150
