"""Where and how a result was made: one function for every run folder, manifest, report and README block."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import socket
import sys


def command_line(argv: list[str] | None = None, module: str | None = None) -> str:
    """The command as a reader would retype it: ``python -m <module> <args>`` (or the script and its args)."""
    args = [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]
    head = ["python", "-m", module] if module else [os.path.basename(sys.argv[0]) or "python"]
    return " ".join([*head, *args])


def provenance(command: str = "") -> dict:
    """``command``, ``created`` (UTC, seconds), ``host``, ``platform``, ``python`` and ``cpus`` of this process."""
    return {
        "command": command,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
