"""Host facts for every report (CPU, cores, OS, Python, interpreter, OpenCV), peak RSS, output locations."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import resource
import socket
import subprocess
import sys
from pathlib import Path

from core.paths import project_root

RESULTS_DIR = Path("benchmarks") / "results"
CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def hostname() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname().split(".")[0]) or "host"


def default_out_dir(now: dt.datetime | None = None) -> Path:
    """``<repo>/benchmarks/results/<host>-<YYYYMMDD-HHMM>/``."""
    now = now or dt.datetime.now()
    return project_root() / RESULTS_DIR / f"{hostname()}-{now:%Y%m%d-%H%M}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    """'model name' from /proc/cpuinfo (x86), 'Model' (Raspberry Pi), the device-tree model, else platform's."""
    fields: dict[str, str] = {}
    for line in _read(CPUINFO).splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    for key in ("model name", "model", "hardware", "cpu model", "processor"):
        value = fields.get(key, "")
        if value and not value.isdigit():
            return value
    tree = _read(DEVICE_TREE_MODEL).strip("\x00\n ")
    if tree:
        return tree
    if sys.platform == "darwin":
        try:
            cmd = ["sysctl", "-n", "machdep.cpu.brand_string"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def memory_total_mib() -> float | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", _read(MEMINFO), re.MULTILINE)
    return round(int(match.group(1)) / 1024.0, 1) if match else None


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0, 1)


def _version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def host_facts(argv: list[str] | None = None) -> dict:
    """Everything a reader needs to compare two reports. Imports cv2/numpy/the interpreter lazily."""
    import cv2
    import numpy as np

    from device.interpreter import InterpreterNotFoundError, interpreter_backend

    try:
        package, version = interpreter_backend()
    except InterpreterNotFoundError:
        package, version = "none", "-"
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count() or 1,
        "memory_mib": memory_total_mib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "interpreter": {"package": package, "version": version},
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "matplotlib": _version("matplotlib"),
        "scikit_learn": _version("scikit-learn"),
        "tensorflow_installed": _version("tensorflow") is not None,
        "load_average_start": load_average(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command_line(argv),
    }


def machine_line(facts: dict) -> str:
    """The machine as a report's header names it: hostname, CPU, cores, OS."""
    return f"`{facts['hostname']}` ({facts['cpu_model']}, {facts['cores']} cores, {facts['os']})"


def report_meta(argv: list[str] | None = None) -> dict:
    """The header of a small report (compare, smoothing, trade-off): the command, the UTC time and the machine."""
    return {"command": command_line(argv),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_line(host_facts(argv))}


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed, for the report: ``python -m benchmarks <args>`` (core.provenance's form)."""
    from core.provenance import command_line as typed

    return typed(argv, module="benchmarks")
