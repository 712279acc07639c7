"""A tiny one-line progress reporter on stderr (no tqdm): a bar on a terminal, start/end lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
MIN_INTERVAL_S = 0.1


class Progress:
    """``with Progress("latency int8", total) as p: ... p.update()``; ``enabled=False`` prints nothing."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label, self.total = label, max(0, int(total))
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.tty = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0

    def __enter__(self) -> Progress:
        self.started = time.perf_counter()
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)

    def update(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.started
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(round(frac * BAR_WIDTH))
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            return f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:.1f}s"
        return f"{self.label} {self.done} {elapsed:.1f}s"

    def _draw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < MIN_INTERVAL_S and self.done < self.total:
            return
        self._last_draw = now
        line = self._line()
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()

    def close(self, failed: bool = False) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        status = "failed" if failed else "done"
        if self.tty:
            self._draw(force=True)
            self.stream.write(f" {status}\n")
        else:
            count = f" ({self.done}/{self.total})" if self.total else ""
            self.stream.write(f"{self.label}: {status}{count} in {elapsed:.1f}s\n")
        self.stream.flush()
        self.enabled = False


def note(message: str, enabled: bool = True, stream: TextIO | None = None) -> None:
    """One status line on stderr."""
    if enabled:
        out = sys.stderr if stream is None else stream
        out.write(message + "\n")
        out.flush()
