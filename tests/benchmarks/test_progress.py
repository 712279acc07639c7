"""The one-line progress reporter: a redrawn bar on a terminal, one line per task otherwise."""

from __future__ import annotations

import io

from benchmarks.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal() -> None:
    stream = FakeTerminal()
    with Progress("latency", 4, stream=stream) as bar:
        for _ in range(4):
            bar.update()
    text = stream.getvalue()
    assert text.startswith("\rlatency [") and "4/4" in text and text.endswith(" done\n")
    assert text.count("\n") == 1


def test_one_line_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("accuracy", 3, stream=stream) as bar:
        bar.update(3)
    assert stream.getvalue().startswith("accuracy: done (3/3) in ") and stream.getvalue().count("\n") == 1


def test_disabled_prints_nothing_and_failure_is_said() -> None:
    quiet = FakeTerminal()
    with Progress("x", 2, stream=quiet, enabled=False) as bar:
        bar.update()
    assert quiet.getvalue() == ""
    stream = io.StringIO()
    try:
        with Progress("pipeline", 2, stream=stream):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert "pipeline: failed" in stream.getvalue()
