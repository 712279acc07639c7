"""The frame loop's pacing (``device/loop.py``): a file played at its media time, stills shown their seconds, a
live source never held back. A fake clock that only moves when the loop sleeps: no test depends on this machine's
speed."""

from __future__ import annotations

import io

import numpy as np
import pytest

from device.demo import play_speed
from device.loop import MAX_LAG_S, FrameLoop, LoopOptions, Pacer
from device.pipeline import FrameResult
from device.sources import Frame


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class ScriptedSource:
    """Frames at the given media times (seconds) of a file, stills or a live camera."""

    name = "scripted"
    fps = None

    def __init__(self, times: list[float], live: bool = False, stills: bool = False) -> None:
        self.times, self.live, self.stills = list(times), live, stills

    def read(self) -> Frame | None:
        if not self.times:
            return None
        return Frame(0, np.zeros((4, 4, 3), np.uint8), None, self.times.pop(0))

    def close(self) -> None:
        pass


class NoFaces:
    def __call__(self, frame: Frame) -> FrameResult:
        return FrameResult(frame.index, [])

    def reset(self) -> None:
        pass


class Shown:
    """A sink that records the fake time each frame reached it."""

    wants_annotation = False

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.at = clock, []

    def write(self, frame, result, annotated) -> None:
        self.at.append(self.clock.now)

    def close(self) -> None:
        pass


def _run(source: ScriptedSource, speed: float, still_s: float = 2.0):
    clock = FakeClock()
    shown = Shown(clock)
    loop = FrameLoop(source, NoFaces(), [shown], LoopOptions(speed=speed, still_s=still_s),
                     err=io.StringIO(), clock=clock, sleep=clock.sleep)
    summary = loop.run()
    return summary, [round(t - 100.0, 6) for t in shown.at], clock


def test_a_video_file_plays_at_its_media_time_times_the_speed() -> None:
    summary, shown, clock = _run(ScriptedSource([5.0, 5.1, 5.3, 5.4]), speed=2.0)
    assert summary.stop_reason == "end-of-stream" and summary.frames == 4
    assert shown == [0.0, 0.05, 0.15, 0.2]  # from the first frame on, media time / 2
    assert sum(clock.sleeps) == pytest.approx(0.2)  # and no hold after the last frame of a video


def test_stills_are_shown_their_seconds_each_the_last_one_too() -> None:
    summary, shown, clock = _run(ScriptedSource([0.0, 0.0, 0.0], stills=True), speed=1.0, still_s=1.5)
    assert summary.stop_reason == "end-of-stream" and shown == [0.0, 1.5, 3.0]
    assert clock.now - 100.0 == pytest.approx(4.5)  # the third is on screen for its 1.5 s before the loop ends


@pytest.mark.parametrize("source", [ScriptedSource([0.0, 0.5, 1.0], live=True),
                                    ScriptedSource([0.0, 0.5, 1.0], live=True, stills=True)])
def test_a_live_source_is_never_paced(source: ScriptedSource) -> None:
    summary, shown, clock = _run(source, speed=1.0)
    assert summary.frames == 3 and clock.sleeps == [] and shown == [0.0, 0.0, 0.0]


def test_unpaced_runs_as_fast_as_the_pipeline() -> None:
    summary, shown, clock = _run(ScriptedSource([0.0, 10.0, 20.0]), speed=0.0)
    assert summary.frames == 3 and clock.sleeps == [] and shown == [0.0, 0.0, 0.0]


def test_a_window_keeps_answering_while_it_waits_and_can_quit() -> None:
    class Window:
        wants_annotation = False

        def __init__(self, clock: FakeClock, quit_after: float) -> None:
            self.clock, self.quit_after, self.idled = clock, quit_after, []

        def write(self, frame, result, annotated) -> None:
            return None

        def idle(self, seconds: float) -> str | None:
            self.idled.append(seconds)
            self.clock.now += seconds
            return "quit" if self.clock.now - 100.0 >= self.quit_after else None

        def close(self) -> None:
            pass

    clock = FakeClock()
    source = ScriptedSource([0.0, 0.0, 0.0], stills=True)
    window = Window(clock, quit_after=1.0)
    loop = FrameLoop(source, NoFaces(), [window], LoopOptions(speed=1.0, still_s=2.0), err=io.StringIO(),
                     clock=clock, sleep=clock.sleep)
    summary = loop.run()
    assert summary.stop_reason == "quit" and summary.frames == 1  # quit during the first still's two seconds
    assert clock.sleeps == [] and max(window.idled) <= 0.05 + 1e-9  # handed to the window in short slices


def test_the_pacer_takes_the_clock_anew_after_a_stall_or_a_jump_back() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, clock)
    assert pacer.due_in(10.0) == 0.0  # the first frame sets the origin
    assert pacer.due_in(10.5) == pytest.approx(0.5)
    clock.now += 1.0 + MAX_LAG_S + 0.1  # a stall: the next frame (due 1 s after the first) is late by more
    assert pacer.due_in(11.0) == 0.0
    assert pacer.due_in(11.25) == pytest.approx(0.25)  # played on from the late frame, not raced through
    assert pacer.due_in(3.0) == 0.0  # media time went back (a looped stream): a new origin
    assert pacer.due_in(3.5) == pytest.approx(0.5)
    clock.now += 0.3  # a little late is not a stall: the next frame comes sooner instead
    assert pacer.due_in(4.0) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="speed"):
        Pacer(0.0, clock)


@pytest.mark.parametrize(("speed", "shown", "expected"), [
    (None, True, 1.0),   # a window or web view on a file: real time
    (None, False, 0.0),  # JSON lines or a recording alone: as fast as it goes
    (0.5, False, 0.5),   # asked for: as asked
    (0.0, True, 0.0),
])
def test_the_demo_plays_files_in_real_time_only_where_someone_watches(speed, shown, expected) -> None:
    assert play_speed(speed, shown=shown) == expected
