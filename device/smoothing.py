"""Per-face label smoothing in time (not frames), with hysteresis, and the two numbers that judge it.

**Smoothing** (:class:`LabelSmoother`, one per tracked face). Time is the source's own (``Frame.timestamp``: a
video file's media time, a camera's capture time), so a file processed faster or slower than real time is
smoothed as it would be live, and 10 and 60 FPS behave alike:

- the log-probabilities (each probability floored at :data:`LOG_FLOOR`) are averaged exponentially with time
  constant ``tau`` seconds: a frame ``dt`` seconds after the previous one gets the weight ``1 - exp(-dt / tau)``;
  the first frame initialises the average and is shown as it is. The reported probabilities are the softmax of
  that average (a normalised geometric mean: a class must be likely in most frames, one confident frame does
  not carry it);
- the label changes when some class has been the most likely one and at least ``margin`` above the label in
  averaged log-probability (``margin`` 0.8: 2.2 times as likely) for ``hold`` seconds without a break; it
  becomes the class that leads at that moment. A single confused frame does not change the label, a real
  change does within about ``tau + hold``;
- a calm, ambiguous face (the classifier's vote split 60/40 between two classes) never gives the right class
  such a lead, so a wrong first label could stick: a second, slow rule lets a class take over when it has been
  the most likely one for ``settle`` seconds more than it was not (a leaky count of time, not a continuous run);
- frames with the same timestamp (a coarse clock) count as one observation: their log-probabilities are
  averaged together and take that instant's weight. A timestamp earlier than the previous one (a looped
  video, a restarted clock) or a non-finite one restarts the average and the label from that frame: what came
  before is not its past. ``tau = 0`` is off: each frame's own probabilities and label, no hysteresis.

:class:`FrameSmoother` is the earlier frame-count smoothing (mean over the last ``window`` frames, or a
per-frame EMA ``alpha``; label = the smoothed arg-max), kept for ``python -m device --smoothing`` and for
comparison.

**Measures** (:func:`evaluate_labels`), for a face's frames with a ground-truth label each:

- *flicker*: label changes per minute that are not the label following a ground-truth change. Within each
  ground-truth segment, the first change that makes the label equal to the segment's truth (when it was not
  already) is the reaction to that change; every other change is flicker. On a steady face (one segment)
  these are the label changes per minute, less one for a wrong first label that gets corrected.
- *reaction*: per ground-truth change, the seconds from the first frame with the new truth until the first
  frame (of that segment) whose displayed label is the new truth; ``None`` when it never gets there.

Targets (issue "The camera path"): at most 10 flicker changes a minute on a steady face, a real change followed
within 0.5 s. The defaults (tau 0.2 s, margin 0.8, hold 0.15 s, settle 2 s) were first set with :func:`measure`
on :func:`synthetic_stream` streams at 10, 30 and 60 FPS; ``python -m benchmarks smoothing``
(``benchmarks/smoothing.py``, reports/smoothing/smoothing.md: the demo's pipeline over Training faces held still
and changing expression, plus these synthetic streams, 320 settings) chose the same setting in session 33.
``python -m device.smoothing`` prints the synthetic table (no smoothing, the earlier 5-frame mean, the defaults).

**Benchmark hook**::

    evaluate_faces(
        faces: Iterable[tuple[Sequence[tuple[float, ArrayLike]], Sequence[str | int]]],
        smoothing: SmoothingConfig | Callable[[], Smoother] | None = None,
    ) -> LabelStats

``faces``: per face (one track), its frames as ``(timestamp seconds, probabilities (7,) in EMOTIONS order)``
in time order, and the ground-truth label of each frame (an EMOTIONS name or index). ``smoothing``: None for
the defaults, a :class:`SmoothingConfig`, or a factory of any smoother with ``update(timestamp, probs) ->
(probs, label index)``, e.g. ``lambda: FrameSmoother(window=5)`` (the earlier default) or ``RawLabels`` (none).
Returns the totals over all faces (:class:`LabelStats`): ``.flicker_per_minute``, ``.changes_per_minute``,
``.reactions_s`` (one per ground-truth change; None: never followed), ``.median_reaction_s``,
``.worst_reaction_s``, ``.accuracy`` (share of frames whose displayed label is the truth).
:func:`evaluate_stream` does the same for one face; :func:`evaluate_labels` takes labels already displayed
(e.g. the ``label`` field of the demo's JSON lines, with their frame times) instead of probabilities.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.labels import EMOTIONS, NUM_CLASSES

# The defaults: the chosen setting of reports/smoothing/smoothing.md (``python -m benchmarks smoothing``: flicker on
# steady faces against reaction to real changes, on Training faces; a test keeps them equal to that report's).
DEFAULT_TAU_S = 0.2
DEFAULT_LABEL_MARGIN = 0.8  # log-probability (nats): exp(0.8) = 2.2 times as likely as the label
DEFAULT_LABEL_HOLD_S = 0.15
DEFAULT_SETTLE_S = 2.0
MAX_TAU_S = 60.0
MAX_HOLD_S = 60.0
MAX_MARGIN = 10.0
LOG_FLOOR = 1e-3  # probabilities are floored here before the log: one frame's 0 must not veto a class for long
TIME_EPS = 1e-9  # seconds: frame times are sums of float intervals (0.1 * 3 != 0.3)

TARGET_FLICKER_PER_MINUTE = 10.0
TARGET_REACTION_S = 0.5


@dataclass(frozen=True)
class SmoothingConfig:
    """``tau``: seconds (0: off); ``margin``: log-probability lead a challenger needs; ``hold``: seconds it must
    keep that lead; ``settle``: the slow rule's seconds for an ambiguous face (0: without the slow rule)."""

    tau: float = DEFAULT_TAU_S
    margin: float = DEFAULT_LABEL_MARGIN
    hold: float = DEFAULT_LABEL_HOLD_S
    settle: float = DEFAULT_SETTLE_S

    def __post_init__(self) -> None:
        limits = (("tau", self.tau, MAX_TAU_S), ("margin", self.margin, MAX_MARGIN), ("hold", self.hold, MAX_HOLD_S),
                  ("settle", self.settle, MAX_HOLD_S))
        for name, value, high in limits:
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and 0.0 <= value <= high
            ):
                raise ValueError(f"smoothing {name} {value!r}: expected a finite number in 0..{high:g}")

    @property
    def enabled(self) -> bool:
        return self.tau > 0.0


class Smoother(Protocol):
    def update(self, timestamp: float, probs: np.ndarray) -> tuple[np.ndarray, int]: ...

    def reset(self) -> None: ...


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class LabelSmoother:
    """Time-based smoothing of one face: ``update(timestamp, probs) -> (smoothed probs float32, label index)``."""

    def __init__(self, config: SmoothingConfig | None = None) -> None:
        self.config = config or SmoothingConfig()
        self.reset()

    def reset(self) -> None:
        self._time: float | None = None  # timestamp of the latest frame
        self._before: np.ndarray | None = None  # the average before that timestamp (None: it is the first)
        self._weight = 1.0  # that timestamp's weight
        self._sum: np.ndarray | None = None  # sum and count of the log-probabilities at that timestamp
        self._count = 0
        self._average: np.ndarray | None = None  # averaged log-probabilities
        self.label: int | None = None
        self._lead_since: float | None = None  # when some class began to lead the label by the margin
        self._settle = np.zeros(NUM_CLASSES)  # per class: seconds it was the most likely, less those it was not

    def update(self, timestamp: float, probs: np.ndarray) -> tuple[np.ndarray, int]:
        probs = np.asarray(probs, dtype=np.float32)
        if not self.config.enabled:
            return probs.copy(), int(np.argmax(probs))
        t = float(timestamp)
        log = np.log(np.clip(probs.astype(np.float64), LOG_FLOOR, None))
        if self._time is None or not math.isfinite(t) or t < self._time:  # first frame, or time went back
            self.reset()
            self._time, self._sum, self._count = t, log, 1
            self._average = log
            self.label = int(np.argmax(probs))
            return probs.copy(), self.label
        dt = t - self._time
        if dt > 0:
            self._before = self._average
            self._weight = -math.expm1(-dt / self.config.tau)
            self._time, self._sum, self._count = t, log, 1
        else:  # the same instant: one observation with the frames before it at this time
            self._sum, self._count = self._sum + log, self._count + 1
        mean = self._sum / self._count
        self._average = mean if self._before is None else self._before + self._weight * (mean - self._before)
        self._hysteresis(t, dt)
        return _softmax(self._average).astype(np.float32), self.label

    def _hysteresis(self, t: float, dt: float) -> None:
        average, label = self._average, self.label
        best = int(np.argmax(average))
        if self.config.settle > 0 and dt > 0:  # slow rule: a leaky count of the time each class was the best
            credit = min(dt, self.config.settle / 4)  # one frame after a long gap is not seconds of evidence
            self._settle = np.maximum(self._settle - credit, 0.0)
            if best != label:
                self._settle[best] += 2 * credit
                if self._settle[best] >= self.config.settle - TIME_EPS:
                    self._switch(best)
                    return
        if best == label or average[best] - average[label] <= self.config.margin:
            self._lead_since = None
            return
        if self._lead_since is None:
            self._lead_since = t
        if t - self._lead_since >= self.config.hold - TIME_EPS:
            self._switch(best)

    def _switch(self, label: int) -> None:
        self.label, self._lead_since = label, None
        self._settle[:] = 0.0


class FrameSmoother:
    """The earlier frame-count smoothing: mean of the last ``window`` frames' probabilities (1: off), or with
    ``alpha`` an EMA per frame ``s = alpha * p + (1 - alpha) * s``; label = arg-max. Timestamps are ignored."""

    def __init__(self, window: int = 5, alpha: float | None = None) -> None:
        if window < 1:
            raise ValueError(f"window {window}: expected >= 1")
        if alpha is not None and not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha {alpha}: expected in (0, 1]")
        self.window, self.alpha = window, alpha
        self.reset()

    def reset(self) -> None:
        self._history: deque = deque(maxlen=self.window)
        self._ema: np.ndarray | None = None

    def update(self, timestamp: float, probs: np.ndarray) -> tuple[np.ndarray, int]:
        probs = np.asarray(probs, dtype=np.float32)
        if self.alpha is not None:
            self._ema = probs.copy() if self._ema is None else self.alpha * probs + (1.0 - self.alpha) * self._ema
            smoothed = self._ema.astype(np.float32)
        else:
            self._history.append(probs)
            smoothed = np.mean(self._history, axis=0).astype(np.float32)
        return smoothed, int(np.argmax(smoothed))


class RawLabels:
    """No smoothing: each frame's own probabilities and arg-max (the baseline for the measures)."""

    def update(self, timestamp: float, probs: np.ndarray) -> tuple[np.ndarray, int]:
        probs = np.asarray(probs, dtype=np.float32)
        return probs, int(np.argmax(probs))

    def reset(self) -> None:
        pass


def parse_smoothing(text: str) -> tuple[int, float | None]:
    """``--smoothing`` (frame-count, kept as it was) -> (window, alpha): an integer >= 1 is a window ("0" or "1":
    off), a number in (0, 1) a per-frame EMA alpha."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value == 0.0:
        return 1, None
    if 0.0 < value < 1.0:
        return 1, value
    if value >= 1.0 and value.is_integer():
        return int(value), None
    raise ValueError(f"smoothing {text!r}: expected a window (integer >= 1, 1 = off) or an EMA alpha in (0, 1)")


# ---------------------------------------------------------------- measures


@dataclass(frozen=True)
class LabelStats:
    duration_s: float
    frames: int
    correct: int  # frames whose displayed label is the truth
    changes: int  # every change of the displayed label
    flicker: int  # changes that are not the label following a ground-truth change
    reactions_s: tuple[float | None, ...]  # one per ground-truth change; None: the label never followed

    @property
    def flicker_per_minute(self) -> float:
        return 60.0 * self.flicker / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def changes_per_minute(self) -> float:
        return 60.0 * self.changes / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.frames if self.frames else 0.0

    @property
    def worst_reaction_s(self) -> float | None:
        """The slowest reaction (inf when a change was never followed); None without ground-truth changes."""
        if not self.reactions_s:
            return None
        return math.inf if any(r is None for r in self.reactions_s) else max(self.reactions_s)

    @property
    def median_reaction_s(self) -> float | None:
        return median_reaction(self.reactions_s)

    def __add__(self, other: LabelStats) -> LabelStats:
        return LabelStats(self.duration_s + other.duration_s, self.frames + other.frames,
                          self.correct + other.correct, self.changes + other.changes, self.flicker + other.flicker,
                          self.reactions_s + other.reactions_s)


EMPTY_STATS = LabelStats(0.0, 0, 0, 0, 0, ())


def median_reaction(reactions_s: Sequence[float | None]) -> float | None:
    """Median seconds of reactions where None (never followed) is slower than any: inf when the middle one is a
    never; None without reactions."""
    if not reactions_s:
        return None
    return float(np.median([math.inf if r is None else r for r in reactions_s]))


def _index(label: str | int) -> int:
    return EMOTIONS.index(label) if isinstance(label, str) else int(label)


def _duration(timestamps: np.ndarray) -> float:
    """The frames' span plus one typical frame interval (each frame stands for the time until the next)."""
    if len(timestamps) < 2:
        return 0.0
    return float(timestamps[-1] - timestamps[0] + np.median(np.diff(timestamps)))


def evaluate_labels(
    timestamps: Sequence[float], labels: Sequence[str | int], truth: Sequence[str | int]
) -> LabelStats:
    """Flicker and reaction times of one face's displayed labels against its ground truth (see the module doc)."""
    times = np.asarray(timestamps, dtype=np.float64)
    shown = [_index(x) for x in labels]
    true = [_index(x) for x in truth]
    if not len(times) == len(shown) == len(true):
        raise ValueError(f"{len(times)} timestamps, {len(shown)} labels, {len(true)} truth labels: expected equal")
    starts = [0] + [i for i in range(1, len(true)) if true[i] != true[i - 1]]
    changes = flicker = 0
    reactions: list[float | None] = []
    for start, end in zip(starts, starts[1:] + [len(true)], strict=True):
        target = true[start]
        excused = shown[start - 1 if start else 0] == target  # the label already showed the new truth
        followed: float | None = 0.0 if excused else None
        for i in range(max(start, 1), end):
            if shown[i] != shown[i - 1]:
                changes += 1
                if not excused and shown[i] == target:
                    excused, followed = True, float(times[i] - times[start])
                else:
                    flicker += 1
        if start > 0:
            reactions.append(followed)
    correct = sum(s == t for s, t in zip(shown, true, strict=True))
    return LabelStats(_duration(times), len(times), correct, changes, flicker, tuple(reactions))


def _smoother_factory(smoothing: SmoothingConfig | Callable[[], Smoother] | None) -> Callable[[], Smoother]:
    if smoothing is None or isinstance(smoothing, SmoothingConfig):
        return lambda: LabelSmoother(smoothing)
    return smoothing


def smoothed_labels(
    timestamps: Sequence[float],
    probabilities: Sequence[np.ndarray] | np.ndarray,
    smoothing: SmoothingConfig | Callable[[], Smoother] | None = None,
) -> list[int]:
    """The labels a fresh smoother displays for one face's frames."""
    smoother = _smoother_factory(smoothing)()
    return [smoother.update(t, p)[1] for t, p in zip(timestamps, probabilities, strict=True)]


def evaluate_stream(
    timestamps: Sequence[float],
    probabilities: Sequence[np.ndarray] | np.ndarray,
    truth: Sequence[str | int],
    smoothing: SmoothingConfig | Callable[[], Smoother] | None = None,
) -> LabelStats:
    """Smooth one face's frames (a fresh smoother) and measure its displayed labels against the truth."""
    return evaluate_labels(timestamps, smoothed_labels(timestamps, probabilities, smoothing), truth)


def evaluate_faces(
    faces: Iterable[tuple[Sequence[tuple[float, np.ndarray]], Sequence[str | int]]],
    smoothing: SmoothingConfig | Callable[[], Smoother] | None = None,
) -> LabelStats:
    """The benchmark hook: totals over faces, each ``(frames as (timestamp, probabilities), truth per frame)``."""
    total = EMPTY_STATS
    for frames, truth in faces:
        timestamps = [t for t, _ in frames]
        probabilities = [p for _, p in frames]
        total = total + evaluate_stream(timestamps, probabilities, truth, smoothing)
    return total


# ---------------------------------------------------------------- synthetic streams


@dataclass(frozen=True)
class Expression:
    """What a noisy classifier sees of one expression: ``true`` wins ``share`` of the time, ``confusable`` the
    rest; the winner's expected probability is ``peak``, the other of the pair gets half the remainder."""

    true: int
    confusable: int
    share: float = 0.6
    peak: float = 0.5


def synthetic_stream(
    fps: float,
    duration: float,
    segments: Sequence[tuple[float, Expression]],
    *,
    episode_s: float = 0.0,
    concentration: float = 10.0,
    jitter: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One face as a classifier sees it: (timestamps, probabilities (N, 7) float32, true class per frame).

    ``segments``: ``(start seconds, Expression)``, the first starting at 0. Each frame's winner is the true
    class or the confusable one; its probabilities are drawn from a Dirichlet (``concentration`` times the
    expected probabilities: ``peak`` on the winner, ``(1 - peak) / 2`` on the other of the pair, the rest
    spread over the other five classes) and the winner is made the arg-max. ``episode_s`` 0: winners drawn
    independently per frame (the harshest case at a low frame rate); > 0: the confusable class wins in episodes
    of that mean length in seconds (a two-state Markov chain in time: the same noise at every frame rate).
    ``jitter``: each frame time moves by up to that fraction of a frame interval (uneven capture).
    """
    rng = np.random.default_rng(seed)
    count = int(round(duration * fps))
    times = np.arange(count) / fps
    if jitter:
        times = times + rng.uniform(-jitter / 2, jitter / 2, count) / fps
    which = np.searchsorted(np.array([start for start, _ in segments]), times, side="right") - 1
    probs = np.empty((count, NUM_CLASSES), np.float32)
    truth: list[int] = []
    confused = rng.random() >= segments[0][1].share
    for i, t in enumerate(times):
        expression = segments[which[i]][1]
        share = expression.share
        if episode_s <= 0:
            confused = rng.random() >= share
        elif i > 0:
            decay = math.exp(-(t - times[i - 1]) / (share * episode_s))
            p_confused = (1 - share) + share * decay if confused else (1 - share) * (1 - decay)
            confused = rng.random() < p_confused
        winner, other = (
            (expression.confusable, expression.true) if confused else (expression.true, expression.confusable)
        )
        alpha = np.full(NUM_CLASSES, (1 - expression.peak) / 2 / (NUM_CLASSES - 2))
        alpha[winner], alpha[other] = expression.peak, (1 - expression.peak) / 2
        p = rng.dirichlet(alpha * concentration)
        top = int(np.argmax(p))
        p[winner], p[top] = p[top], p[winner]
        probs[i] = p
        truth.append(expression.true)
    return times, probs, truth


ANGRY, FEAR, HAPPY, SAD, SURPRISE, NEUTRAL = (EMOTIONS.index(n) for n in
                                              ("angry", "fear", "happy", "sad", "surprise", "neutral"))
# The calm smiling face of the issue: "happy" 60 % of frames, "fear" the rest, neither confident.
STEADY = Expression(HAPPY, FEAR, share=0.6, peak=0.5)
# Real changes: from a calm face to a clear expression (90 % of frames, confident).
STEPS: dict[str, tuple[Expression, Expression]] = {
    # the new expression has nothing in common with the calm one
    "distinct": (Expression(NEUTRAL, SAD), Expression(HAPPY, FEAR, 0.9, 0.8)),
    # the calm face's confusable class is the new one's too
    "shared confusable": (Expression(HAPPY, FEAR), Expression(SURPRISE, FEAR, 0.9, 0.8)),
    # the calm face's class is the new one's confusable: it keeps some support after the change
    "old becomes confusable": (Expression(SAD, NEUTRAL), Expression(ANGRY, SAD, 0.9, 0.8)),
}
NOISE_MODELS: dict[str, float] = {"independent frames": 0.0, "confusion in 0.1 s episodes": 0.1}


def measure(
    smoothing: SmoothingConfig | Callable[[], Smoother] | None,
    fps: float,
    *,
    episode_s: float = 0.0,
    seeds: Sequence[int] = range(4),
    steady_s: float = 60.0,
    step_at_s: float = 5.0,
) -> tuple[LabelStats, dict[str, LabelStats]]:
    """(steady, per step) totals at one frame rate: :data:`STEADY` for ``steady_s`` per seed, and each of
    :data:`STEPS` changing at ``step_at_s`` (of ``2 * step_at_s``) per seed."""
    steady = EMPTY_STATS
    steps = dict.fromkeys(STEPS, EMPTY_STATS)
    for seed in seeds:
        times, probs, truth = synthetic_stream(fps, steady_s, [(0.0, STEADY)], episode_s=episode_s, seed=seed)
        steady = steady + evaluate_stream(times, probs, truth, smoothing)
        for k, (name, (before, after)) in enumerate(STEPS.items()):
            times, probs, truth = synthetic_stream(fps, 2 * step_at_s, [(0.0, before), (step_at_s, after)],
                                                   episode_s=episode_s, seed=1000 * seed + k)
            steps[name] = steps[name] + evaluate_stream(times, probs, truth, smoothing)
    return steady, steps


def _seconds(value: float | None) -> str:
    return "-" if value is None else ("never" if math.isinf(value) else f"{value:.2f}")


def measurement_table(frame_rates: Sequence[float] = (10.0, 30.0, 60.0)) -> str:
    """Markdown: no smoothing, the earlier 5-frame mean and the time-based defaults, per noise model and frame
    rate: steady flicker and accuracy, and reaction median / worst per kind of step."""
    candidates: list[tuple[str, SmoothingConfig | Callable[[], Smoother]]] = [
        ("none", RawLabels),
        ("5-frame mean", lambda: FrameSmoother(window=5)),
        (f"tau {DEFAULT_TAU_S:g} s, margin {DEFAULT_LABEL_MARGIN:g}, hold {DEFAULT_LABEL_HOLD_S:g} s",
         SmoothingConfig()),
    ]
    header = ["smoothing", "noise", "FPS", "flicker/min", "steady acc."] + [f"{name} (s)" for name in STEPS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, smoothing in candidates:
        for noise, episode_s in NOISE_MODELS.items():
            for fps in frame_rates:
                steady, steps = measure(smoothing, fps, episode_s=episode_s)
                cells = [name, noise, f"{fps:g}", f"{steady.flicker_per_minute:.1f}", f"{steady.accuracy:.2f}"]
                cells += [f"{_seconds(s.median_reaction_s)} / {_seconds(s.worst_reaction_s)}" for s in steps.values()]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(measurement_table())
