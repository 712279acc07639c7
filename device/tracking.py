"""Faces tracked across frames by IoU; each track's probabilities and label smoothed in time.

``FaceTracker.update(boxes, probs, timestamp)`` matches this frame's boxes to the tracks (greedy IoU) and
feeds each track's smoother (``device.smoothing``) with the frame's time: ``Frame.timestamp``, the source's
own clock (media time for a video file, capture time for a camera), so a file processed faster than real time
is smoothed as it would be live. By default the smoothing is time-based (:class:`LabelSmoother`: an exponential
average of the log-probabilities with time constant ``tau`` seconds, and a label with hysteresis); with
``window`` or ``alpha`` it is the earlier frame-count smoothing (:class:`FrameSmoother`, ``--smoothing``).

Tracks expire by time too: one unseen for more than ``max_age`` seconds (0.5) ends, but never on its first
missed frame (at a slow frame rate one missed detection does not end a track). At 10 FPS that is the earlier
rule (5 missed frames survive, the 6th ends the track). A frame earlier than the previous one (a looped
video, a restarted clock) starts every track afresh; frames with the same time are fine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from device.detector import Box
from device.smoothing import (
    TIME_EPS,
    FrameSmoother,
    LabelSmoother,
    Smoother,
    SmoothingConfig,
    parse_smoothing,
)

__all__ = ["DEFAULT_MAX_AGE_S", "FaceTracker", "Track", "Tracked", "match_boxes", "parse_smoothing"]

DEFAULT_MAX_AGE_S = 0.5
MIN_MISSED_TO_EXPIRE = 2  # a track never ends on its first missed frame


@dataclass
class Track:
    track_id: int
    box: Box
    smoother: Smoother
    last_seen: float  # the time of the last frame the face was in
    missed: int = 0  # frames since then


class Tracked(NamedTuple):
    track_id: int
    probabilities: np.ndarray  # (7,) float32, smoothed
    label: int  # displayed label, an index into EMOTIONS (with hysteresis: not always the arg-max)


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
    """IoU tracker with per-track smoothing.

    ``smoothing``: the time-based smoothing's settings (default :class:`SmoothingConfig`; ``tau=0``: off).
    ``window``/``alpha``: the earlier frame-count smoothing instead (moving average over ``window`` frames,
    or a per-frame EMA); not together with ``smoothing``. ``max_age``: seconds a track survives unseen.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        *,
        smoothing: SmoothingConfig | None = None,
        window: int | None = None,
        alpha: float | None = None,
        max_age: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.frame_based = window is not None or alpha is not None
        if self.frame_based and smoothing is not None:
            raise ValueError("smoothing: either time-based settings or a frame window/alpha, not both")
        if not (math.isfinite(max_age) and max_age >= 0):
            raise ValueError(f"max_age {max_age}: expected a finite number of seconds >= 0")
        if self.frame_based:
            FrameSmoother(1 if window is None else window, alpha)  # checks the values
        self.iou_threshold, self.window, self.alpha, self.max_age = iou_threshold, window, alpha, max_age
        self.smoothing = None if self.frame_based else (smoothing or SmoothingConfig())
        self.tracks: list[Track] = []
        self._next_id = 0
        self._last_time: float | None = None

    def _smoother(self) -> Smoother:
        if self.frame_based:
            return FrameSmoother(1 if self.window is None else self.window, self.alpha)
        return LabelSmoother(self.smoothing)

    def reset(self) -> None:
        """Forget every track (and its smoothing); new tracks keep getting new ids."""
        self.tracks.clear()
        self._last_time = None

    def update(self, boxes: list[Box], probs: np.ndarray, timestamp: float | None = None) -> list[Tracked]:
        """One frame: (track id, smoothed probabilities, label index) for each box, in the order of ``boxes``.

        ``timestamp``: the frame's time in seconds (``Frame.timestamp``); None or not finite: ``time.monotonic()``.
        """
        now = time.monotonic() if timestamp is None or not math.isfinite(timestamp) else float(timestamp)
        if self._last_time is not None and now < self._last_time:  # time went back: what came before is not past
            self.reset()
        self._last_time = now
        matched = match_boxes([t.box for t in self.tracks], boxes, self.iou_threshold)
        seen: set[int] = set()
        results: list[Tracked] = []
        for bi, box in enumerate(boxes):
            if bi in matched:
                track = self.tracks[matched[bi]]
                track.box, track.last_seen, track.missed = box, now, 0
            else:
                track = Track(self._next_id, box, self._smoother(), now)
                self._next_id += 1
                self.tracks.append(track)
            seen.add(track.track_id)
            smoothed, label = track.smoother.update(now, probs[bi])
            results.append(Tracked(track.track_id, smoothed, label))
        for track in self.tracks:
            if track.track_id not in seen:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.track_id in seen or not self._expired(t, now)]
        return results

    def _expired(self, track: Track, now: float) -> bool:
        return track.missed >= MIN_MISSED_TO_EXPIRE and now - track.last_seen > self.max_age + TIME_EPS
