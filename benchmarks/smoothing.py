"""Choosing the label smoothing's settings on Training faces: ``python -m benchmarks smoothing``.

Record once, replay many. The demo's pipeline (``device.demo.build_pipeline``: the detector with its calibrated
framing, the model, the tracker) runs with its smoothing off over

- *steady* streams: the one-face real photos that the camera benchmark does not hold still itself (it uses the
  first ``CameraSettings.steady_photos``; these are the rest), each held still with the benchmark's jitter and
  sensor noise, and Training faces held still on a canvas (any face, also the ones the model gets wrong: the
  ambiguous faces are where labels flicker);
- *change* streams: pairs of Training faces of different labels that the model gets right on their dataset crops,
  A then B at the same place (``benchmarks.scenes.change_frames``, as the camera benchmark's reaction, which uses
  the evaluation split's faces),

and keeps each frame's raw probabilities and track id (the largest face). Still photos and faces make a classifier
far steadier than a live face, so the steady side also has ``device.smoothing``'s *synthetic* ambiguous face (its
class wins 60% of the frames, a confusable one the rest, frame by frame or in 0.1 s episodes, at 10, 30 and 60
FPS: the streams ``python -m device.smoothing`` measures). Each setting of the grid
(:data:`GRID`, ``device.smoothing.SmoothingConfig``) then replays every stream as the tracker does: one
``LabelSmoother`` per track, a new one when the track changes. That is the pipeline's own smoothing on the same
probabilities, so a grid of hundreds of settings costs one recording.

Scores of a setting (:func:`score`):

- flicker: displayed-label changes per minute over all steady streams together, and the worst stream's
  (``device.smoothing.evaluate_labels`` against the label shown most often, as the camera benchmark's steady
  face: a wrong first label that gets corrected is not flicker);
- reaction, over the changes where the classifier itself mostly says A before the switch and B after it: the share
  the label follows within ``device.smoothing.TARGET_REACTION_S``, the share it follows before the stream ends, and
  the median seconds (a change never followed counts as slower than any; None when more than half are never).

The choice (:func:`choose`): among the settings whose flicker is at most a quarter of the target (10 changes a
minute) over all recorded steady streams, within the target on the worst one, at most half the target on the
synthetic face (its worst noise model and frame rate) and alike at 10, 30 and 60 FPS (within
:data:`SYNTHETIC_RATE_SPREAD` a minute) under the noise model that is the same in time at every rate, and its
changes (``device.smoothing.STEPS``) followed within :data:`SYNTHETIC_REACTION_S` (the bounds of
``tests/device/test_smoothing.py``), the highest share followed within the target; ties go to the larger share
followed at all, then the lower flicker, then the setting that smooths most (longer ``tau``, ``settle``, ``hold``,
larger ``margin``): the least reactive of the equally good. History (session 33; the bounds on the synthetic changes
and rates are ``tests/device/test_smoothing.py``'s, the flicker bound half of its target, none was in the first
rule): the first run had no synthetic face and chose tau 0.05 s, margin 1.2, hold 0.15 s, settle 0.25 s, which kept
the recorded faces still but flickered 27 to 65 times a minute on the synthetic face; with the flicker bound, the
second chose tau 0.05 s, margin 1.2, hold 0.15 s, settle 2 s, which followed a change toward a class the calm face
already showed after 1.6 s at 10 FPS (bound 1.5 s); with the bounds on the changes, the third chose tau 0.2 s,
margin 1.2, hold 0.05 s, settle 2 s (81% followed within 0.5 s against the defaults' 79%), which flickered 4.25
against 1.0 times a minute at 10 and 60 FPS (bound 3); the fourth, with that bound on both noise models, ruled out
the defaults themselves (4.0 a minute between 10 and 30 FPS with frame-by-frame noise, which more frames a second
rightly average away) and chose a slower setting (75% against 79%), so the bound was narrowed to the noise model
that is the same in time, as the device test has it; the committed report is the fifth run. The same replay at a
third of the frame rate (every third frame: 10 FPS) is reported for the chosen and the current settings, since the
smoothing runs in time, not frames. ``device.smoothing``'s defaults are the chosen setting of the committed report
(``reports/smoothing/smoothing.json``; a test keeps them equal).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from benchmarks.steadiness import censored_median
from core.fileio import atomic_write_json, atomic_write_text
from core.labels import EMOTIONS, NUM_CLASSES
from device.smoothing import (
    TARGET_FLICKER_PER_MINUTE,
    TARGET_REACTION_S,
    LabelSmoother,
    SmoothingConfig,
    evaluate_labels,
)

GRID: dict[str, tuple[float, ...]] = {  # one table: the settings tried, each SmoothingConfig field's values
    "tau": (0.05, 0.1, 0.15, 0.2, 0.3),
    "margin": (0.3, 0.5, 0.8, 1.2),
    "hold": (0.05, 0.1, 0.15, 0.3),
    "settle": (0.25, 0.5, 1.0, 2.0),
}
SMOOTHEST_FIRST: tuple[str, ...] = ("tau", "settle", "hold", "margin")  # the tie-break: the setting that smooths most
FLICKER_SHARE = 0.25  # the chosen setting's flicker over all steady streams: at most this share of the target
SYNTHETIC_SHARE = 0.5  # ... and on the synthetic ambiguous face, its worst frame rate and noise model
SYNTHETIC_FPS: tuple[float, ...] = (10.0, 30.0, 60.0)
# ... alike at every frame rate, within this many changes a minute (tests/device/test_smoothing.py's bound), under
# the noise model that is the same in time at every rate (frame-by-frame noise is not: more frames a second average
# more of it away, so flicker rightly falls with the frame rate)
SYNTHETIC_RATE_SPREAD = 3.0
SAME_NOISE_IN_TIME = "confusion in 0.1 s episodes"
# ... and its changes (device.smoothing.STEPS): the slowest of each kind, at every frame rate and noise model, within
# these seconds (a change to an expression unlike the calm face's: the target; the others compete with a class the
# calm face already showed: tests/device/test_smoothing.py's bound)
SYNTHETIC_REACTION_S: dict[str, float] = {"distinct": TARGET_REACTION_S, "shared confusable": 1.5,
                                          "old becomes confusable": 1.5}
LOW_RATE_STEP = 3  # the low-frame-rate check keeps every third frame (30 -> 10 FPS)


@dataclass(frozen=True)
class Stream:
    """One stream: the frames where a face was found (``t`` seconds, ``track`` ids, ``probs`` (n, 7) raw
    probabilities, ``index`` the frame numbers) out of ``frames`` shown. A change stream has ``switch_s`` (B's
    first frame time) and ``labels`` (A's and B's class indices). Kinds: ``steady`` and ``change`` are recorded
    through the pipeline; ``synthetic`` is ``device.smoothing``'s ambiguous steady face (``name``: its noise
    model, ``fps``: its frame rate) and ``synthetic-change`` one of its changes (``name``: the kind of change)."""

    kind: str  # "steady", "change", "synthetic" or "synthetic-change"
    name: str
    t: np.ndarray
    track: np.ndarray
    probs: np.ndarray
    index: np.ndarray
    frames: int
    switch_s: float | None = None
    labels: tuple[int, int] | None = None
    truth: int | None = None  # synthetic: the class the stream stands for (else the label shown most often)
    fps: float | None = None  # synthetic: its frame rate

    def every(self, step: int) -> Stream:
        """The stream at a ``step``-th of its frame rate (every ``step``-th frame shown)."""
        keep = self.index % step == 0
        return Stream(self.kind, self.name, self.t[keep], self.track[keep], self.probs[keep], self.index[keep],
                      -(-self.frames // step), self.switch_s, self.labels, self.truth,
                      None if self.fps is None else self.fps / step)

    @property
    def classifier_agrees(self) -> bool:
        """A change the classifier itself sees: its raw labels mostly A's before the switch and B's after."""
        if self.kind != "change" or self.switch_s is None or self.labels is None:
            return False
        raw = self.probs.argmax(axis=1)
        before, after = raw[self.t < self.switch_s - 1e-9], raw[self.t >= self.switch_s - 1e-9]
        if not len(before) or not len(after):
            return False
        mostly = [int(np.bincount(part, minlength=NUM_CLASSES).argmax()) for part in (before, after)]
        return tuple(mostly) == tuple(self.labels)


def record(pipeline, frames: Iterable[tuple[float, np.ndarray]], kind: str, name: str,
           switch_s: float | None = None, labels: tuple[int, int] | None = None) -> Stream:
    """Run ``pipeline`` (an ``EmotionPipeline`` with smoothing off) over (timestamp, BGR frame) pairs from a fresh
    start; keep the largest face's raw probabilities and track id of each frame."""
    from device.sources import Frame

    pipeline.reset()
    t, track, probs, index = [], [], [], []
    count = 0
    for i, (timestamp, bgr) in enumerate(frames):
        count += 1
        result = pipeline(Frame(i, bgr, None, timestamp))
        if result.faces:
            face = result.faces[0]
            t.append(float(timestamp))
            track.append(int(face.track_id))
            probs.append(np.asarray(face.probabilities, dtype=np.float32))
            index.append(i)
    return Stream(kind, name, np.asarray(t, dtype=np.float64), np.asarray(track, dtype=np.int64),
                  np.asarray(probs, dtype=np.float32).reshape(-1, NUM_CLASSES), np.asarray(index, dtype=np.int64),
                  count, switch_s, labels)


def replay(stream: Stream, config: SmoothingConfig) -> np.ndarray:
    """The displayed label of each recorded frame under ``config``: one smoother per track, as the tracker."""
    labels = np.empty(len(stream.t), dtype=np.int64)
    smoother, current = None, None
    for i, (t, track, probs) in enumerate(zip(stream.t, stream.track, stream.probs, strict=True)):
        if smoother is None or track != current:
            smoother, current = LabelSmoother(config), track
        labels[i] = smoother.update(float(t), probs)[1]
    return labels


def reaction_s(stream: Stream, labels: np.ndarray) -> float | None:
    """Seconds from the switch until the displayed label is B's (None: not before the stream ends)."""
    after = np.flatnonzero((stream.t >= stream.switch_s - 1e-9) & (labels == stream.labels[1]))
    return None if not len(after) else max(0.0, float(stream.t[after[0]] - stream.switch_s))


def _flicker(stream: Stream, config: SmoothingConfig):
    labels = replay(stream, config)
    truth = stream.truth if stream.truth is not None else int(np.bincount(labels, minlength=NUM_CLASSES).argmax())
    return evaluate_labels(stream.t, labels, [truth] * len(labels))  # as the camera benchmark's steady face


def score(streams: Sequence[Stream], config: SmoothingConfig) -> dict:
    """Flicker on the steady and synthetic streams, reaction on the agreeing change streams (module docstring)."""
    changes, seconds, worst = 0, 0.0, 0.0
    for s in (s for s in streams if s.kind == "steady" and len(s.t) >= 2):
        stats = _flicker(s, config)
        changes, seconds = changes + stats.flicker, seconds + stats.duration_s
        worst = max(worst, stats.flicker_per_minute)
    groups: dict[tuple[str, float], list[float]] = {}
    for s in (s for s in streams if s.kind == "synthetic" and len(s.t) >= 2):
        stats = _flicker(s, config)
        total = groups.setdefault((s.name, s.fps), [0.0, 0.0])
        total[0], total[1] = total[0] + stats.flicker, total[1] + stats.duration_s
    synthetic = {f"{noise}, {fps:g} FPS": 60.0 * n / d for (noise, fps), (n, d) in groups.items() if d > 0}
    alike = [60.0 * n / d for (noise, _), (n, d) in groups.items() if noise == SAME_NOISE_IN_TIME and d > 0]
    slowest: dict[str, float] = {}
    for s in (s for s in streams if s.kind == "synthetic-change"):
        seconds_to_follow = reaction_s(s, replay(s, config))
        slowest[s.name] = max(slowest.get(s.name, 0.0), math.inf if seconds_to_follow is None else seconds_to_follow)
    reactions = [reaction_s(s, replay(s, config)) for s in streams if s.classifier_agrees]
    followed = [r for r in reactions if r is not None]
    n = len(reactions)
    return {
        "flicker_per_minute": 60.0 * changes / seconds if seconds > 0 else None,
        "worst_flicker_per_minute": worst if seconds > 0 else None,
        "steady_minutes": seconds / 60.0,
        "synthetic_flicker_per_minute": max(synthetic.values()) if synthetic else None,
        "synthetic_worst": max(synthetic, key=synthetic.get) if synthetic else None,
        "synthetic_by_rate": synthetic or None,
        "synthetic_rate_spread": max(alike) - min(alike) if len(alike) > 1 else None,
        "synthetic_slowest_s": {k: (None if math.isinf(v) else v) for k, v in slowest.items()} or None,
        "changes": n,
        "within_target": sum(r <= TARGET_REACTION_S + 1e-9 for r in followed) / n if n else None,
        "followed": len(followed) / n if n else None,
        "median_reaction_s": censored_median(reactions),
        "mean_followed_s": float(np.mean(followed)) if followed else None,
    }


def grid_configs(grid: dict[str, tuple[float, ...]] = GRID) -> list[SmoothingConfig]:
    names = list(grid)
    return [SmoothingConfig(**dict(zip(names, values, strict=True))) for values in itertools.product(*grid.values())]


def config_dict(config: SmoothingConfig) -> dict[str, float]:
    return {"tau": config.tau, "margin": config.margin, "hold": config.hold, "settle": config.settle}


def eligible(row: dict, target: float = TARGET_FLICKER_PER_MINUTE) -> bool:
    flicker, worst = row["flicker_per_minute"], row["worst_flicker_per_minute"]
    synthetic = row.get("synthetic_flicker_per_minute")
    slowest = row.get("synthetic_slowest_s") or {}
    quick = all(slowest[k] is not None and slowest[k] <= limit + 1e-9
                for k, limit in SYNTHETIC_REACTION_S.items() if k in slowest)
    rates = row.get("synthetic_rate_spread")
    return (flicker is not None and flicker <= FLICKER_SHARE * target + 1e-9 and worst <= target + 1e-9
            and (synthetic is None or synthetic <= SYNTHETIC_SHARE * target + 1e-9) and quick
            and (rates is None or rates <= SYNTHETIC_RATE_SPREAD + 1e-9))


def choose(rows: Sequence[dict], target: float = TARGET_FLICKER_PER_MINUTE) -> dict | None:
    """The rule of the module docstring over rows of ``{"config": {...}, **score}``; None when none is eligible
    or no change was measured."""
    candidates = [r for r in rows if eligible(r, target) and r["within_target"] is not None]
    if not candidates:
        return None

    def key(row: dict) -> tuple:
        return (row["within_target"], row["followed"], -row["flicker_per_minute"],
                *(row["config"][name] for name in SMOOTHEST_FIRST))

    return max(candidates, key=key)


@dataclass(frozen=True)
class TuneSettings:
    pairs: int = 60
    steady_faces: int = 40
    steady_seconds: float = 15.0
    change_seconds: float = 4.0  # each face of a change is shown this long
    skip_photos: int = 3  # one-face photos the camera benchmark holds still itself (CameraSettings.steady_photos)
    fps: float = 30.0


def synthetic_streams(frame_rates: Sequence[float] = SYNTHETIC_FPS, seeds: Sequence[int] = range(4),
                      seconds: float = 60.0, step_at_s: float = 5.0) -> list[Stream]:
    """``device.smoothing``'s ambiguous steady face (``STEADY``: its class wins 60% of the frames, a confusable one
    the rest) under each noise model and frame rate, ``seconds`` per seed: the streams ``python -m
    device.smoothing`` measures its steady flicker on; and its changes (``STEPS``, at ``step_at_s`` of twice that)
    as ``synthetic-change`` streams named by their kind."""
    from device.smoothing import NOISE_MODELS, STEADY, STEPS, synthetic_stream

    out = []
    for (noise, episode_s), fps in itertools.product(NOISE_MODELS.items(), frame_rates):
        for seed in seeds:
            times, probs, _ = synthetic_stream(fps, seconds, [(0.0, STEADY)], episode_s=episode_s, seed=seed)
            n = len(times)
            out.append(Stream("synthetic", noise, times, np.ones(n, np.int64), probs, np.arange(n), n,
                              truth=STEADY.true, fps=fps))
            for k, (step, (before, after)) in enumerate(STEPS.items()):  # as device.smoothing.measure draws them
                times, probs, _ = synthetic_stream(fps, 2 * step_at_s, [(0.0, before), (step_at_s, after)],
                                                   episode_s=episode_s, seed=1000 * seed + k)
                n = len(times)
                out.append(Stream("synthetic-change", step, times, np.ones(n, np.int64), probs, np.arange(n), n,
                                  switch_s=step_at_s, labels=(before.true, after.true)))
    return out


def record_streams(pipeline, faces_x: np.ndarray, faces_y: np.ndarray, predicted: np.ndarray, photos: list,
                   settings: TuneSettings, seed: int = 0, progress: bool = True) -> list[Stream]:
    """Every steady and change stream of the module docstring, through ``pipeline`` (smoothing off)."""
    from benchmarks.scenes import change_frames, steady_frames
    from benchmarks.steadiness import pick_pairs

    s = settings
    rng = np.random.default_rng(seed)
    one_face = [p for p in photos if p.faces == 1][s.skip_photos:]
    still = rng.choice(len(faces_y), size=min(s.steady_faces, len(faces_y)), replace=False)
    pairs = pick_pairs(faces_y, predicted, s.pairs, seed)
    per_still = int(round(s.steady_seconds * s.fps))
    total = len(one_face) * per_still + len(still) * 2 * int(round(s.steady_seconds / 2 * s.fps)) \
        + len(pairs) * 2 * int(round(s.change_seconds * s.fps))
    streams: list[Stream] = []

    def without_which(frames):
        for t, bgr, _ in frames:
            yield t, bgr

    with progress_bar("smoothing: recording", total, enabled=progress) as bar:
        for k, photo in enumerate(one_face):
            streams.append(record(pipeline, steady_frames(photo, s.steady_seconds, s.fps, seed=seed + 100 + k),
                                  "steady", photo.name))
            bar.update(streams[-1].frames)
        for k, i in enumerate(still):
            frames = change_frames(faces_x[i], faces_x[i], s.steady_seconds / 2, s.fps, seed=seed + 1000 + k)
            streams.append(record(pipeline, without_which(frames), "steady", f"training face {int(i)}"))
            bar.update(streams[-1].frames)
        for k, (a, b) in enumerate(pairs):
            frames = change_frames(faces_x[a], faces_x[b], s.change_seconds, s.fps, seed=seed + 2000 + k)
            switch = int(round(s.change_seconds * s.fps)) / s.fps
            streams.append(record(pipeline, without_which(frames), "change",
                                  f"training faces {a} -> {b}", switch, (int(faces_y[a]), int(faces_y[b]))))
            bar.update(streams[-1].frames)
    return streams


def sweep(streams: Sequence[Stream], configs: Sequence[SmoothingConfig], progress: bool = True) -> list[dict]:
    rows = []
    with progress_bar("smoothing: settings", len(configs), enabled=progress) as bar:
        for config in configs:
            rows.append({"config": config_dict(config), **score(streams, config)})
            bar.update()
    return rows


def tune(streams: Sequence[Stream], current: SmoothingConfig, configs: Sequence[SmoothingConfig] | None = None,
         progress: bool = True) -> dict:
    """Sweep the grid, choose, and score the chosen and the current settings at a third of the frame rate too."""
    rows = sweep(streams, grid_configs() if configs is None else configs, progress)
    chosen = choose(rows)
    low = [s.every(LOW_RATE_STEP) for s in streams if not s.kind.startswith("synthetic")]  # they have 10 FPS
    current_row = {"config": config_dict(current), **score(streams, current)}
    result = {
        "grid": {k: list(v) for k, v in GRID.items()},
        "rule": {"flicker_share_of_target": FLICKER_SHARE, "synthetic_share_of_target": SYNTHETIC_SHARE,
                 "target_flicker_per_minute": TARGET_FLICKER_PER_MINUTE,
                 "target_reaction_s": TARGET_REACTION_S, "smoothest_first": list(SMOOTHEST_FIRST)},
        "streams": {"steady": sum(s.kind == "steady" for s in streams),
                    "change": sum(s.kind == "change" for s in streams),
                    "synthetic": sum(s.kind == "synthetic" for s in streams),
                    "synthetic_changes": sum(s.kind == "synthetic-change" for s in streams),
                    "classifier_agrees": sum(s.classifier_agrees for s in streams),
                    "steady_frames_without_face": sum(s.frames - len(s.t) for s in streams if s.kind == "steady"),
                    "tracks_beyond_one": sum(max(0, len(np.unique(s.track)) - 1) for s in streams)},
        "rows": rows,
        "chosen": chosen,
        "current": current_row,
        "low_rate": {"step": LOW_RATE_STEP, "current": {"config": config_dict(current), **score(low, current)}},
    }
    if chosen is not None:
        config = SmoothingConfig(**chosen["config"])
        result["low_rate"]["chosen"] = {"config": chosen["config"], **score(low, config)}
    return result


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "never" if value is None else f"{value:.{digits}f}{unit}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _setting(config: dict) -> str:
    return (f"tau {config['tau']:g} s, margin {config['margin']:g}, hold {config['hold']:g} s, "
            f"settle {config['settle']:g} s")


def _row(label: str, row: dict) -> str:
    synthetic = row.get("synthetic_flicker_per_minute")
    slowest = row.get("synthetic_slowest_s")
    steps = "-" if not slowest else " / ".join(_num(slowest.get(k)) for k in SYNTHETIC_REACTION_S)
    spread = row.get("synthetic_rate_spread")
    face = "-" if synthetic is None else f"{synthetic:.1f}" + ("" if spread is None else f" ({spread:.1f})")
    return (f"| {label} | {_num(row['flicker_per_minute'])} | {_num(row['worst_flicker_per_minute'], 1)} | "
            f"{face} | {steps} | "
            f"{_share(row['within_target'])} | {_share(row['followed'])} | {_num(row['median_reaction_s'])} | "
            f"{_num(row['mean_followed_s'])} |")


HEADER = ("| setting | flicker /min | worst stream /min | "
          f"synthetic face /min (spread over rates, {SAME_NOISE_IN_TIME}) | "
          "synthetic changes, slowest s | "
          "followed within 0.5 s | followed at all | median s (never: slowest) | mean s of followed |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def sensitivity(rows: Sequence[dict], chosen: dict) -> list[tuple[str, dict]]:
    """Rows that differ from the chosen setting in one field only, field by field."""
    out = []
    for name in GRID:
        for row in rows:
            others = all(row["config"][k] == chosen["config"][k] for k in GRID if k != name)
            if others and row["config"][name] != chosen["config"][name]:
                out.append((f"{name} {row['config'][name]:g}", row))
    return out


def render(result: dict, meta: dict) -> str:
    chosen, current = result["chosen"], result["current"]
    streams = result["streams"]
    lines = [
        "# Label smoothing: the settings, chosen on Training faces",
        "",
        f"- Command: `{meta['command']}`",
        f"- Machine: {meta['machine']}; {meta['date']}",
        f"- Model: `{meta['model']}` (sha256 {meta['model_sha256'][:12]}), detector `{meta['detector']}` with its "
        "calibrated framing, the demo's pipeline with its smoothing off; every setting replays the same recorded "
        "probabilities (`benchmarks/smoothing.py`).",
        f"- Streams: {streams['steady']} steady ({meta['steady_photos']} real photos, "
        f"{streams['steady'] - meta['steady_photos']} Training faces; {current['steady_minutes']:.1f} minutes with "
        f"a face), {streams['change']} changes of expression, {streams['classifier_agrees']} of them seen by the "
        f"classifier itself (the reaction's denominator). Frames without a face in the steady streams: "
        f"{streams['steady_frames_without_face']}; new tracks after the first: {streams['tracks_beyond_one']}.",
        f"- Synthetic: `device.smoothing`'s ambiguous steady face ({streams['synthetic']} streams of 60 s: two "
        "noise models at 10, 30 and 60 FPS, four seeds each; its column is the worst noise model and frame rate) "
        "and its changes (" + ", ".join(SYNTHETIC_REACTION_S) + ": the slowest of each over the same rates, models "
        "and seeds).",
        f"- Rule: flicker at most {FLICKER_SHARE:g} x the target ({TARGET_FLICKER_PER_MINUTE:g}/min) over all "
        f"recorded steady streams, within the target on the worst of them, at most {SYNTHETIC_SHARE:g} x the "
        f"target on the synthetic face at its worst rate and noise model, differing by at most "
        f"{SYNTHETIC_RATE_SPREAD:g}/min between frame rates, and its slowest changes within "
        + " / ".join(f"{v:g} s" for v in SYNTHETIC_REACTION_S.values())
        + f"; then the largest share followed within {TARGET_REACTION_S:g} s; ties: "
        "followed at all, lower flicker, then the setting that smooths most.",
        "",
    ]
    if chosen is None:
        lines += ["No setting of the grid meets the flicker rule: the defaults stay as they are.", ""]
    else:
        lines += [f"**Chosen: {_setting(chosen['config'])}.**", ""]
    lines += [HEADER, _row(f"current defaults ({_setting(current['config'])})", current)]
    if chosen is not None:
        lines.append(_row(f"chosen ({_setting(chosen['config'])})", chosen))
    low = result["low_rate"]
    lines.append(_row(f"current, every {low['step']}rd frame (10 FPS)", low["current"]))
    if "chosen" in low:
        lines.append(_row(f"chosen, every {low['step']}rd frame (10 FPS)", low["chosen"]))
    ranked = sorted((r for r in result["rows"] if eligible(r)), key=lambda r: (
        -r["within_target"], -r["followed"], r["flicker_per_minute"]))[:12]
    lines += ["", f"The best {len(ranked)} settings that meet the flicker rule, of {len(result['rows'])}:", "", HEADER]
    lines += [_row(_setting(r["config"]), r) for r in ranked]
    if chosen is not None:
        lines += ["", "One field at a time away from the chosen setting:", "", HEADER]
        lines += [_row(label, r) for label, r in sensitivity(result["rows"], chosen)]
    flicky = [r for r in result["rows"] if not eligible(r)]
    lines += ["", f"Settings that flicker beyond the rule: {len(flicky)} of {len(result['rows'])}.", ""]
    return "\n".join(lines)


def write(result: dict, out: Path, meta: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "smoothing.json", {**meta, **result})
    return atomic_write_text(out / "smoothing.md", render(result, meta))


def measure(data: Path, model: Path, detector: str, detector_model: Path | None, real_faces: Path,
            settings: TuneSettings, seed: int, progress: bool,
            training: Callable[[Path, int], tuple[np.ndarray, np.ndarray]]) -> tuple[list[Stream], dict]:
    """Record the streams (module docstring) for ``model``; ``training(data, seed) -> (x, y)`` the Training faces."""
    from benchmarks.scenes import load_real_photos
    from device.classifier import ClassifierOptions, EmotionClassifier
    from device.demo import DemoOptions, build_pipeline

    photos, why = load_real_photos(real_faces)
    if why:
        raise BenchError(f"smoothing: {why}")
    pipeline = build_pipeline(DemoOptions(model=model, detector=detector, detector_model=detector_model, threads=1,
                                          headless=True, smoothing_tau=0.0))
    x, y = training(data, seed)
    classifier = EmotionClassifier(ClassifierOptions(model, 1))
    predicted = classifier.predict_proba(x.reshape(-1, x.shape[1], x.shape[2])).argmax(axis=1)
    streams = record_streams(pipeline, x, y, predicted, photos, settings, seed, progress) + synthetic_streams()
    steady_photos = len([p for p in photos if p.faces == 1][settings.skip_photos:])
    return streams, {"steady_photos": steady_photos, "training_faces": int(len(y)),
                     "training_right": float(np.mean(predicted == y)), "labels": list(EMOTIONS)}
