"""Flicker and reaction of a whole pipeline (part 4 of ``python -m benchmarks run --parts camera``).

:func:`observe` runs a pipeline over timestamped frames and keeps the largest face's displayed and raw labels;
:func:`steady_stats` turns a steady face's observations into label changes per minute and :func:`reaction_stats` a
change of expression into seconds until the displayed label follows, both with ``device.smoothing``'s measures;
:func:`pick_pairs` chooses the faces of the changes and :func:`summarize_changes` sums them up.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Observation:
    t: float  # source time, seconds
    label: str | None  # displayed (smoothed) label of the face; None: no face this frame
    raw: str | None  # the frame's own arg-max
    track: int | None


def observe(pipeline, frames: Iterable[tuple[float, np.ndarray]]) -> list[Observation]:
    """Run ``pipeline`` (``EmotionPipeline``) over (timestamp, frame) pairs; the largest face's labels per frame."""
    from device.sources import Frame

    out = []
    for i, (t, bgr) in enumerate(frames):
        result = pipeline(Frame(i, bgr, None, t))
        face = result.faces[0] if result.faces else None
        out.append(Observation(t, face.label if face else None, face.label_raw if face else None,
                               face.track_id if face else None))
    return out


def _stats_dict(stats) -> dict:
    return {"duration_s": stats.duration_s, "frames": stats.frames, "changes": stats.changes,
            "flicker": stats.flicker, "changes_per_minute": stats.changes_per_minute,
            "flicker_per_minute": stats.flicker_per_minute}


def steady_stats(observations: Sequence[Observation]) -> dict:
    """Label changes per minute of a face that does not change (``device.smoothing.evaluate_labels``, the truth
    being the label shown most often), of the displayed and of the raw per-frame labels."""
    from device.smoothing import evaluate_labels

    shown = [o for o in observations if o.label is not None]
    if len(shown) < 2:
        return {"frames": len(observations), "frames_with_face": len(shown), "changes_per_minute": None}
    times = [o.t for o in shown]
    majority = Counter(o.label for o in shown).most_common(1)[0][0]
    smoothed = evaluate_labels(times, [o.label for o in shown], [majority] * len(shown))
    raw = evaluate_labels(times, [o.raw for o in shown], [majority] * len(shown))
    return {**_stats_dict(smoothed), "frames": len(observations), "frames_with_face": len(shown),
            "label": majority, "raw_changes_per_minute": raw.changes_per_minute,
            "tracks": len({o.track for o in shown})}


def reaction_stats(observations: Sequence[Observation], switch_s: float, label_a: str, label_b: str) -> dict:
    """Seconds from the switch (A -> B at ``switch_s``) until the displayed label is B's (``device.smoothing``'s
    reaction, plus any frames right after the switch in which no face was found). ``measured``: a face was shown
    on both sides; ``classifier_agrees``: the raw per-frame labels were mostly A's before and B's after (else a
    slow or missing reaction is the classifier's, not the smoothing's)."""
    from device.smoothing import TIME_EPS, evaluate_labels

    shown = [o for o in observations if o.label is not None]
    before = [o for o in shown if o.t < switch_s - TIME_EPS]
    after = [o for o in shown if o.t >= switch_s - TIME_EPS]
    if not before or not after:
        return {"measured": False, "reaction_s": None, "classifier_agrees": None}

    def mostly(items: list[Observation], label: str) -> bool:
        return Counter(o.raw for o in items).most_common(1)[0][0] == label

    truth = [label_a] * len(before) + [label_b] * len(after)
    stats = evaluate_labels([o.t for o in shown], [o.label for o in shown], truth)
    reaction = stats.reactions_s[0] if stats.reactions_s else None
    if reaction is not None:
        reaction += after[0].t - switch_s
    return {"measured": True, "reaction_s": reaction, "classifier_agrees": mostly(before, label_a)
            and mostly(after, label_b), "flicker": stats.flicker, "a": label_a, "b": label_b}


def pick_pairs(labels: np.ndarray, predicted: np.ndarray, count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` (A, B) index pairs of faces the model gets right in their dataset crops, of different labels: A's
    label cycles over the classes present, B's is another class, each face used once where possible."""
    rng = np.random.default_rng(seed)
    right = np.flatnonzero(np.asarray(predicted) == np.asarray(labels))
    pools = {int(k): list(rng.permutation(right[labels[right] == k])) for k in np.unique(labels[right])}
    classes = sorted(pools)
    pairs: list[tuple[int, int]] = []
    if len(classes) < 2:
        return pairs
    for i in range(count):
        a_class = classes[i % len(classes)]
        others = [k for k in classes if k != a_class and pools[k]]
        if not pools[a_class] or not others:
            break
        b_class = others[int(rng.integers(len(others)))]
        pairs.append((int(pools[a_class].pop()), int(pools[b_class].pop())))
    return pairs


def censored_median(values: Sequence[float | None]) -> float | None:
    """``device.smoothing.median_reaction`` for a JSON report: None when there are none or when the middle one is
    a never (JSON has no infinity)."""
    from device.smoothing import median_reaction

    median = median_reaction(values)
    return None if median is None or math.isinf(median) else median


def summarize_changes(results: list[dict]) -> dict:
    """Totals of :func:`reaction_stats` over the pairs; the times are over the pairs the classifier itself sees
    (``classifier_agrees``). ``median_all_s``: every such pair counted, a never-followed one as the slowest (the
    camera target's measure); ``within_target``: such pairs followed within ``TARGET_REACTION_S``;
    ``mean_reaction_s``/``median_reaction_s``/``max_reaction_s``: over the followed ones only."""
    from device.smoothing import TARGET_REACTION_S, TIME_EPS

    measured = [r for r in results if r["measured"]]
    agreed = [r for r in measured if r["classifier_agrees"]]
    followed = [r["reaction_s"] for r in agreed if r["reaction_s"] is not None]
    return {
        "pairs": len(results),
        "measured": len(measured),
        "classifier_agrees": len(agreed),
        "followed": len(followed),
        "never": len(agreed) - len(followed),
        "within_target": sum(r <= TARGET_REACTION_S + TIME_EPS for r in followed),
        "median_all_s": censored_median([r["reaction_s"] for r in agreed]),
        "mean_reaction_s": float(np.mean(followed)) if followed else None,
        "median_reaction_s": float(np.median(followed)) if followed else None,
        "max_reaction_s": float(np.max(followed)) if followed else None,
        "per_pair": results,
    }
