"""Per-face temporal smoothing: faces tracked across frames by IoU, probabilities smoothed per track.

Smoothing is a moving average over the last ``window`` frames of a track (``window=1``: off), or, when
``alpha`` is given, an exponential moving average ``s = alpha * p + (1 - alpha) * s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from device.detector import Box


@dataclass
class Track:
    track_id: int
    box: Box
    history: deque = field(default_factory=deque)
    ema: np.ndarray | None = None
    missed: int = 0


def parse_smoothing(text: str) -> tuple[int, float | None]:
    """CLI value -> (window, alpha): an integer >= 1 is a window ("0" or "1": off), a number in (0, 1) an EMA alpha."""
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


def match_boxes(tracks: list[Box], boxes: list[Box], threshold: float) -> dict[int, int]:
    """Greedy IoU matching, best pairs first: {box index: track index} for pairs with IoU >= ``threshold``."""
    pairs = sorted(
        ((t.iou(b), ti, bi) for ti, t in enumerate(tracks) for bi, b in enumerate(boxes)),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used_tracks: set[int] = set()
    for iou, ti, bi in pairs:
        if iou < threshold:
            break
        if bi in matched or ti in used_tracks:
            continue
        matched[bi] = ti
        used_tracks.add(ti)
    return matched


class FaceTracker:
    """IoU tracker with per-track probability smoothing. A track survives ``max_missed`` frames unseen."""

    def __init__(
        self, iou_threshold: float = 0.3, window: int = 5, alpha: float | None = None, max_missed: int = 5
    ) -> None:
        if window < 1:
            raise ValueError(f"window {window}: expected >= 1")
        if alpha is not None and not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha {alpha}: expected in (0, 1]")
        self.iou_threshold, self.window, self.alpha, self.max_missed = iou_threshold, window, alpha, max_missed
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        """Forget every track (and its smoothing history); new tracks keep getting new ids."""
        self.tracks.clear()

    def _smooth(self, track: Track, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float32)
        if self.alpha is not None:
            track.ema = probs.copy() if track.ema is None else self.alpha * probs + (1.0 - self.alpha) * track.ema
            return track.ema.astype(np.float32)
        track.history.append(probs)
        return np.mean(track.history, axis=0).astype(np.float32)

    def update(self, boxes: list[Box], probs: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(track id, smoothed probabilities) for each box, in the order of ``boxes``."""
        matched = match_boxes([t.box for t in self.tracks], boxes, self.iou_threshold)
        seen: set[int] = set()
        results: list[tuple[int, np.ndarray]] = []
        for bi, box in enumerate(boxes):
            if bi in matched:
                track = self.tracks[matched[bi]]
                track.box, track.missed = box, 0
            else:
                track = Track(self._next_id, box, deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(track)
            seen.add(track.track_id)
            results.append((track.track_id, self._smooth(track, probs[bi])))
        for track in self.tracks:
            if track.track_id not in seen:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return results
