"""Progress bars: drawn on a terminal, silent in logs and with --no-progress; notes are plain lines."""

from __future__ import annotations

import io

from benchmarks.progress import note, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal() -> None:
    stream = FakeTerminal()
    with progress_bar("latency", 4, stream=stream) as bar:
        for _ in range(4):
            bar.update()
    text = stream.getvalue()
    assert "latency" in text and "4/4" in text


def test_silent_when_not_a_terminal_or_disabled() -> None:
    for stream, enabled in ((io.StringIO(), True), (FakeTerminal(), False)):
        with progress_bar("accuracy", 3, stream=stream, enabled=enabled) as bar:
            bar.update(3)
        assert stream.getvalue() == ""


def test_note_is_one_line_unless_disabled() -> None:
    stream = io.StringIO()
    note("latency: 8 models", stream=stream)
    note("hidden", enabled=False, stream=stream)
    assert stream.getvalue() == "latency: 8 models\n"
