"""The frame loop, written once: source -> pipeline -> sinks. The demo, the web view and the pipeline benchmark run it.

Per frame the loop reads the source (``capture``: read + decode), runs the pipeline (its own stages: ``detect``,
``preprocess``, ``classify``, ``smooth``), draws the annotated frame once if any sink wants it and hands it to
those sinks (``draw``: annotation, window, recorder, video stream), then hands the result, with every stage's time,
to the other sinks (JSON lines, events, collectors). These are the stage names of every timing the project prints
(:data:`STAGES`).

A sink is anything with ``wants_annotation`` (read every frame: a web view wants pictures only while someone
watches), ``write(frame, result, annotated) -> stop reason or None`` and ``close()``. Stop reasons: ``max-frames``,
``duration``, ``end-of-stream``, ``interrupted`` (Ctrl-C, SIGTERM), ``quit`` (a sink asked), ``stdout-closed``,
``error``. A sink may also have ``idle(seconds) -> stop reason or None``: while a paced loop waits for a frame's
time it calls that instead of sleeping (a window keeps answering its keys).

Pacing (``LoopOptions.speed``): a video file or image folder is read as fast as the pipeline runs, which is right
for JSON lines, a recording or a benchmark, but a window or web view would flash through it. Paced, each frame of a
file waits for its media time (divided by the speed) and each still image is shown for ``still_s`` seconds, the
last one too; a live source is never paced: it brings its own time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

import numpy as np

from device.draw import draw_results
from device.pipeline import STAGES as PIPELINE_STAGES
from device.pipeline import EmotionPipeline, FrameResult
from device.sources import Frame, FrameSource, ImageDecodeError, SourceError

STAGES: tuple[str, ...] = ("capture", *PIPELINE_STAGES, "draw")


class OutputError(Exception):
    """A sink cannot write its output (a recorded video, a socket); the message names it."""


class Sink(Protocol):
    @property
    def wants_annotation(self) -> bool:
        """Whether :meth:`write` needs the annotated frame for this frame (it is drawn once for all sinks)."""
        ...

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        """Consume one frame; return a stop reason (e.g. ``"quit"``) to end the loop, else None."""
        ...

    def close(self) -> None:
        """Release what the sink holds; raise :class:`OutputError` if its output could not be finished."""
        ...


DEFAULT_STILL_S = 2.0  # paced still images: seconds each is shown at speed 1
MAX_LAG_S = 1.0  # a paced frame this late (a slow pipeline, a stall) takes the clock anew instead of racing to catch up
IDLE_SLICE_S = 0.05  # a paced wait hands the sinks' idle() at most this long at a time


@dataclass
class LoopOptions:
    max_frames: int | None = None
    duration: float | None = None  # seconds of wall time
    retries: int = 0  # re-open a live source this many times when it stops
    retry_delay: float = 1.0
    speed: float = 0.0  # a file's frames at this multiple of their media time (1: real time); 0: unpaced
    still_s: float = DEFAULT_STILL_S  # paced still images: seconds each is shown (at speed 1)


class Pacer:
    """When a frame of media time ``media`` is due, on ``clock``: the first frame sets the origin, each later one
    is due ``(media - first media) / speed`` seconds after it. A frame more than :data:`MAX_LAG_S` late, or one whose
    media time goes back, sets the origin anew (played on from there, not raced through)."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.perf_counter) -> None:
        if speed <= 0:
            raise ValueError(f"pacing: speed {speed}, expected > 0")
        self.speed, self.clock = speed, clock
        self._origin: tuple[float, float] | None = None  # (wall time, media time)

    def due_in(self, media: float) -> float:
        """Seconds until the frame at ``media`` is due (0: now)."""
        now = self.clock()
        if self._origin is not None:
            wall0, media0 = self._origin
            wait = wall0 + (media - media0) / self.speed - now
            if -MAX_LAG_S <= wait and media >= media0:
                return max(wait, 0.0)
        self._origin = (now, media)
        return 0.0


@dataclass
class LoopSummary:
    frames: int
    faces: int
    elapsed_s: float
    stop_reason: str
    error: str | None = None
    skipped: int = 0  # undecodable images of a folder, skipped with a warning
    first_result_at: float | None = None  # time.monotonic() of the first frame's result

    @property
    def mean_fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


class FrameLoop:
    """Runs ``pipeline`` over ``source`` into ``sinks`` until a stop reason; always releases source and sinks.

    ``reopen`` makes a new source after a live one failed (``retries`` times, ``retry_delay`` apart); warnings go
    to ``err``. ``fps`` is a smoothed frames-per-second for overlays, updated every frame.
    """

    def __init__(self, source: FrameSource, pipeline: EmotionPipeline, sinks: Sequence[Sink],
                 options: LoopOptions | None = None, reopen: Callable[[], FrameSource] | None = None,
                 err: TextIO | None = None, caption: str = "", clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source: FrameSource | None = source
        self.pipeline, self.sinks = pipeline, list(sinks)
        self.options = options or LoopOptions()
        self.reopen = reopen
        self.err = sys.stderr if err is None else err
        self.caption = caption  # drawn after the FPS on annotated frames (e.g. "balance 0.5")
        self.live, self.stills = source.live, source.stills
        self.frames = self.faces = self.failures = self.skipped = 0
        self.fps: float | None = None
        self.first_result_at: float | None = None
        self._last: float | None = None
        self.clock, self.sleep = clock, sleep  # of the pacing only (tests drive them)
        paced = self.options.speed > 0 and not source.live
        self.pacer = Pacer(self.options.speed, clock) if paced else None

    def _warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.err, flush=True)

    def _read(self) -> Frame | None:
        """The next frame; None at the end; raises SourceError once retries are exhausted."""
        while True:
            try:
                if self.source is None:
                    assert self.reopen is not None
                    self.source = self.reopen()
                return self.source.read()
            except ImageDecodeError as exc:  # one bad image in a folder: the others are still worth a look
                self.skipped += 1
                self._warn(f"{exc}; skipped")
            except SourceError as exc:
                if not self.live or self.reopen is None or self.failures >= self.options.retries:
                    raise
                self.failures += 1
                self._warn(f"{exc}; retry {self.failures}/{self.options.retries} in {self.options.retry_delay:g} s")
                if self.source is not None:
                    self.source.close()
                    self.source = None
                time.sleep(self.options.retry_delay)

    def _stop_reason(self, started: float) -> str | None:
        if self.options.max_frames is not None and self.frames >= self.options.max_frames:
            return "max-frames"
        if self.options.duration is not None and time.perf_counter() - started >= self.options.duration:
            return "duration"
        return None

    def _media_time(self, frame: Frame | None) -> float:
        """A paced frame's place in time: a still's turn times ``still_s``, else the source's media time; the end
        of a folder is the last still's end."""
        if self.stills or frame is None:
            return self.frames * self.options.still_s
        return frame.timestamp

    def _wait(self, seconds: float) -> str | None:
        """Wait ``seconds``, handing the time to the sinks' ``idle`` (a window answers its keys) if any have one;
        their stop reason, if they give one."""
        idlers = [s for s in self.sinks if callable(getattr(s, "idle", None))]
        deadline = self.clock() + seconds
        while (left := deadline - self.clock()) > 0:
            if not idlers:
                self.sleep(left)
                break
            for sink in idlers:
                reason = sink.idle(min(left, IDLE_SLICE_S))
                if reason:
                    return reason
        return None

    def step(self) -> str | None:
        """One frame through the pipeline and the sinks; a stop reason, or None to go on."""
        start = time.perf_counter()
        frame = self._read()
        if frame is None:
            if self.pacer is not None and self.stills and self.frames:  # the last still is shown its time too
                return self._wait(self.pacer.due_in(self._media_time(None))) or "end-of-stream"
            return "end-of-stream"
        self.failures = 0
        capture_ms = (time.perf_counter() - start) * 1000.0
        if self.pacer is not None:
            reason = self._wait(self.pacer.due_in(self._media_time(frame)))
            if reason:
                return reason
        frame.index = self.frames
        if self.stills:  # independent images: nothing tracked or averaged across them
            self.pipeline.reset()
        result = self.pipeline(frame)
        if self.first_result_at is None:
            self.first_result_at = time.monotonic()
        result.timings_ms = {"capture": capture_ms, **result.timings_ms}
        now = time.perf_counter()
        if self._last is not None:
            instant = 1.0 / max(now - self._last, 1e-6)
            self.fps = instant if self.fps is None else 0.9 * self.fps + 0.1 * instant
        self._last = now
        drawn = time.perf_counter()
        drawing = [s for s in self.sinks if s.wants_annotation]
        annotated = draw_results(frame.bgr, result, self.fps, self.caption) if drawing else None
        reason = None
        for sink in drawing:  # window, recorder, video stream: their time is the frame's "draw"
            reason = sink.write(frame, result, annotated) or reason
        result.timings_ms["draw"] = (time.perf_counter() - drawn) * 1000.0
        for sink in self.sinks:  # JSON lines, events, collectors: they see every stage's time
            if sink not in drawing:
                reason = sink.write(frame, result, None) or reason
        self.frames += 1
        self.faces += len(result.faces)
        return reason

    def run(self) -> LoopSummary:
        started = time.perf_counter()
        reason: str | None = None
        error: str | None = None
        try:
            while reason is None:
                reason = self._stop_reason(started) or self.step()
        except KeyboardInterrupt:
            reason = "interrupted"
        except BrokenPipeError:
            reason = "stdout-closed"
        except (SourceError, OutputError) as exc:
            reason, error = "error", str(exc)
        finally:
            problem = self.close()
        if reason == "end-of-stream" and self.frames == 0 and self.options.max_frames != 0:
            reason, error = "error", "no frames could be read"
        if problem and error is None:
            reason, error = "error", problem
        return LoopSummary(self.frames, self.faces, time.perf_counter() - started, reason, error, self.skipped,
                           self.first_result_at)

    def close(self) -> str | None:
        """Close the source and every sink; the first sink's error (e.g. a video not moved into place), if any."""
        problem = None
        if self.source is not None:
            self.source.close()
            self.source = None
        for sink in self.sinks:
            try:
                sink.close()
            except OutputError as exc:
                problem = problem or str(exc)
        return problem
