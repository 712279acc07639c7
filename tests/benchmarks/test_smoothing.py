"""Choosing the smoothing's settings (``benchmarks.smoothing``): the replay is the tracker's own smoothing, the
scores and the rule on crafted streams, the shipped defaults are the committed report's choice, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.smoothing import (
    GRID,
    SAME_NOISE_IN_TIME,
    Stream,
    choose,
    config_dict,
    eligible,
    grid_configs,
    reaction_s,
    replay,
    score,
    sensitivity,
    synthetic_streams,
)
from core.labels import NUM_CLASSES
from device.detector import Box
from device.smoothing import (
    DEFAULT_LABEL_HOLD_S,
    DEFAULT_LABEL_MARGIN,
    DEFAULT_SETTLE_S,
    DEFAULT_TAU_S,
    NOISE_MODELS,
    SmoothingConfig,
    measure,
)
from device.tracking import FaceTracker

ROOT = Path(__file__).resolve().parents[2]
FPS = 30.0


def _probs(top: dict[int, float]) -> np.ndarray:
    p = np.full(NUM_CLASSES, (1.0 - sum(top.values())) / (NUM_CLASSES - len(top)), np.float32)
    for k, v in top.items():
        p[k] = v
    return p


def _stream(kind: str, rows: list[np.ndarray], track: list[int] | None = None, switch_s: float | None = None,
            labels: tuple[int, int] | None = None) -> Stream:
    n = len(rows)
    return Stream(kind, "crafted", np.arange(n) / FPS, np.asarray(track or [1] * n), np.stack(rows), np.arange(n), n,
                  switch_s, labels)


def test_the_replay_is_the_trackers_smoothing_and_restarts_with_a_new_track() -> None:
    rng = np.random.default_rng(0)
    config = SmoothingConfig(tau=0.2, margin=0.5, hold=0.1, settle=0.5)
    tracker = FaceTracker(smoothing=config)
    times, ids, raw, shown = [], [], [], []
    for i in range(120):
        box = Box(10, 10, 50, 50) if i < 60 else Box(400, 300, 50, 50)  # the face jumps: the tracker starts a new track
        p = rng.dirichlet(np.ones(NUM_CLASSES) * 0.7).astype(np.float32)
        (tracked,) = tracker.update([box], p[None], i / FPS)
        times.append(i / FPS), ids.append(tracked.track_id), raw.append(p), shown.append(tracked.label)
    assert len(set(ids)) == 2
    stream = Stream("steady", "random", np.asarray(times), np.asarray(ids), np.stack(raw), np.arange(120), 120)
    assert replay(stream, config).tolist() == shown
    one_track = Stream("steady", "random", stream.t, np.ones(120, np.int64), stream.probs, stream.index, 120)
    assert replay(one_track, config).tolist() != shown  # without the restart the second half differs


def _stuck_change(seconds_b: float = 2.5) -> Stream:
    """A (0) for 1 s; then C (2) leads for 0.3 s; then B (1) leads C by less than any margin of the grid."""
    a = [_probs({0: 0.9})] * int(FPS)
    c = [_probs({2: 0.6, 1: 0.2})] * int(0.3 * FPS)
    b = [_probs({1: 0.45, 2: 0.38})] * int(seconds_b * FPS)
    return _stream("change", a + c + b, switch_s=1.0, labels=(0, 1))


def test_a_label_caught_by_a_middle_class_follows_only_through_the_settle_rule() -> None:
    agreeing = _stuck_change(seconds_b=2.5)
    assert agreeing.classifier_agrees
    slow = reaction_s(agreeing, replay(agreeing, SmoothingConfig(0.2, 0.8, 0.15, 2.0)))
    quick = reaction_s(agreeing, replay(agreeing, SmoothingConfig(0.2, 0.8, 0.15, 0.25)))
    assert quick is not None and 0.3 < quick < 1.0
    assert slow is None or slow > 2.0
    no_settle = reaction_s(agreeing, replay(agreeing, SmoothingConfig(0.2, 0.8, 0.15, 0.0)))
    assert no_settle is None  # B never leads C by the margin


def test_scores_count_flicker_on_steady_streams_and_reaction_over_agreeing_changes() -> None:
    rng = np.random.default_rng(1)
    split = [_probs({3: 0.5, 6: 0.4}) if rng.random() < 0.6 else _probs({6: 0.5, 3: 0.4}) for _ in range(int(20 * FPS))]
    steady = _stream("steady", split)
    clean = _stream("change", [_probs({0: 0.9})] * 30 + [_probs({1: 0.9})] * 60, switch_s=1.0, labels=(0, 1))
    wrong = _stream("change", [_probs({0: 0.9})] * 90, switch_s=1.0, labels=(0, 1))  # the classifier never sees B
    raw = SmoothingConfig(tau=0.0)  # off: every frame's own arg-max
    off = score([steady, clean, wrong], raw)
    assert off["flicker_per_minute"] > 100 and off["worst_flicker_per_minute"] == pytest.approx(
        off["flicker_per_minute"])
    assert off["changes"] == 1 and off["within_target"] == 1.0 and off["median_reaction_s"] == 0.0
    smoothed = score([steady, clean, wrong], SmoothingConfig(0.2, 0.8, 0.15, 2.0))
    assert smoothed["flicker_per_minute"] < 10 and smoothed["steady_minutes"] == pytest.approx(20 / 60, abs=0.01)
    assert 0.0 < smoothed["median_reaction_s"] <= 0.5 and smoothed["followed"] == 1.0
    stuck = score([_stuck_change(1.5)], SmoothingConfig(0.2, 0.8, 0.15, 2.0))
    assert stuck["followed"] == 0.0 and stuck["median_reaction_s"] is None and stuck["mean_followed_s"] is None


def test_every_third_frame_keeps_the_times() -> None:
    stream = _stuck_change(2.5)
    low = stream.every(3)
    assert len(low.t) == -(-len(stream.t) // 3) == low.frames
    assert np.allclose(low.t, stream.t[::3]) and low.labels == stream.labels and low.switch_s == stream.switch_s


def _row(tau: float, margin: float, hold: float, settle: float, flicker: float, within: float,
         followed: float = 1.0, worst: float | None = None) -> dict:
    return {"config": {"tau": tau, "margin": margin, "hold": hold, "settle": settle},
            "flicker_per_minute": flicker, "worst_flicker_per_minute": flicker if worst is None else worst,
            "within_target": within, "followed": followed, "median_reaction_s": 0.3, "mean_followed_s": 0.3}


def test_the_rule_takes_the_quickest_quiet_setting_and_the_smoothest_of_ties() -> None:
    rows = [
        _row(0.05, 0.3, 0.05, 0.25, flicker=3.0, within=1.0),  # quickest, but flickers beyond a quarter of 10/min
        _row(0.1, 0.3, 0.05, 0.25, flicker=1.0, within=0.9, worst=12.0),  # one stream beyond the target
        _row(0.1, 0.8, 0.15, 0.25, flicker=0.5, within=0.9),
        _row(0.1, 0.8, 0.15, 0.5, flicker=0.5, within=0.9),  # ties with the one above: the longer settle wins
        _row(0.2, 0.8, 0.15, 2.0, flicker=0.0, within=0.7),
        _row(0.1, 0.5, 0.15, 0.5, flicker=0.5, within=0.9, followed=0.95),  # fewer followed at all
    ]
    assert not eligible(rows[0]) and not eligible(rows[1]) and eligible(rows[2])
    assert not eligible({**rows[2], "synthetic_flicker_per_minute": 6.0})  # half the target on the ambiguous face
    assert eligible({**rows[2], "synthetic_flicker_per_minute": 5.0})
    assert not eligible({**rows[2], "synthetic_rate_spread": 3.5})  # flickers unlike at 10 and 60 FPS
    assert choose(rows)["config"] == {"tau": 0.1, "margin": 0.8, "hold": 0.15, "settle": 0.5}
    assert choose(rows[:2]) is None
    assert choose([{**rows[2], "within_target": None}]) is None  # no change measured: nothing to choose on
    around = sensitivity(rows, rows[3])
    assert [label for label, _ in around] == ["margin 0.5", "settle 0.25"]


def test_the_grid_is_every_combination_of_the_table() -> None:
    configs = grid_configs()
    assert len(configs) == int(np.prod([len(v) for v in GRID.values()]))
    assert len({tuple(config_dict(c).values()) for c in configs}) == len(configs)


def test_the_device_defaults_are_the_committed_reports_choice() -> None:
    report = json.loads((ROOT / "reports" / "smoothing" / "smoothing.json").read_text(encoding="utf-8"))
    assert report["chosen"] is not None, "the committed report chose no setting"
    assert report["chosen"]["config"] == {"tau": DEFAULT_TAU_S, "margin": DEFAULT_LABEL_MARGIN,
                                          "hold": DEFAULT_LABEL_HOLD_S, "settle": DEFAULT_SETTLE_S}


def test_a_missing_model_is_a_clear_error_before_any_work(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nothing.tflite"
    code = main(["smoothing", "--data", str(tmp_path / "no.csv"), "--model", str(missing), "--out", str(tmp_path)])
    assert code == 2 and str(missing) in capsys.readouterr().err
    assert not (tmp_path / "smoothing.json").exists()


def test_the_synthetic_face_scores_as_device_smoothing_measures_it() -> None:
    config = SmoothingConfig(0.2, 0.8, 0.15, 2.0)  # the defaults before session 33
    streams = synthetic_streams(frame_rates=(10.0, 30.0), seeds=range(2), seconds=30.0)
    assert sum(s.kind == "synthetic" for s in streams) == 2 * len(NOISE_MODELS) * 2
    assert sum(s.kind == "synthetic-change" for s in streams) == 3 * 2 * len(NOISE_MODELS) * 2
    ours = score(streams, config)
    theirs = max(measure(config, fps, episode_s=episode, seeds=range(2), steady_s=30.0)[0].flicker_per_minute
                 for episode in NOISE_MODELS.values() for fps in (10.0, 30.0))
    assert ours["synthetic_flicker_per_minute"] == pytest.approx(theirs)
    alike = [measure(config, fps, episode_s=NOISE_MODELS[SAME_NOISE_IN_TIME], seeds=range(2),
                     steady_s=30.0)[0].flicker_per_minute for fps in (10.0, 30.0)]
    assert ours["synthetic_rate_spread"] == pytest.approx(max(alike) - min(alike))  # that noise model only
    assert len(ours["synthetic_by_rate"]) == len(NOISE_MODELS) * 2
    assert ours["flicker_per_minute"] is None and ours["changes"] == 0  # no recorded streams among them
    quick = score(streams, SmoothingConfig(0.05, 1.2, 0.15, 0.25))  # the rule's first choice: too quick here
    assert quick["synthetic_flicker_per_minute"] > 2 * ours["synthetic_flicker_per_minute"] > 0


def test_slow_synthetic_changes_rule_a_setting_out() -> None:
    row = _row(0.1, 0.8, 0.15, 0.5, flicker=0.5, within=0.9)
    assert eligible({**row, "synthetic_slowest_s": {"distinct": 0.4, "shared confusable": 1.4}})
    assert not eligible({**row, "synthetic_slowest_s": {"distinct": 0.6, "shared confusable": 1.4}})
    assert not eligible({**row, "synthetic_slowest_s": {"distinct": 0.4, "shared confusable": None}})  # never
    streams = [s for s in synthetic_streams(frame_rates=(30.0,), seeds=range(1)) if s.kind == "synthetic-change"]
    slowest = score(streams, SmoothingConfig(0.2, 0.8, 0.15, 2.0))["synthetic_slowest_s"]
    assert set(slowest) == {"distinct", "shared confusable", "old becomes confusable"}
    assert 0.0 < slowest["distinct"] <= 0.5
