"""Progress on stderr: tqdm's bar on a terminal (none when stderr is a file or pipe), and one-line notes."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


def progress_bar(label: str, total: int, enabled: bool = True, stream: TextIO | None = None) -> tqdm:
    """``with progress_bar("latency int8", total) as bar: ... bar.update()``. Drawn only when ``enabled`` and the
    stream is a terminal (tqdm's ``disable=None``), so logs and CI output stay clean."""
    return tqdm(total=max(0, int(total)), desc=label, disable=None if enabled else True,
                file=sys.stderr if stream is None else stream, mininterval=0.2, leave=True)


def note(message: str, enabled: bool = True, stream: TextIO | None = None) -> None:
    """One status line on stderr."""
    if enabled:
        out = sys.stderr if stream is None else stream
        out.write(message + "\n")
        out.flush()
