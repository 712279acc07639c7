from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

# The project is installed (`make setup`: pip install -e .) and the tests' helpers are on pytest's `pythonpath`
# (pyproject.toml): no sys.path edits here.
ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

_CACHE_DIR: str | None = None


def pytest_configure(config) -> None:
    """The decoded-dataset cache of the whole suite (and of the subprocesses it starts) goes to a temporary folder,
    never to the user's ``~/.cache/feredge``, and no test reads a cache left by an earlier run."""
    global _CACHE_DIR
    _CACHE_DIR = tempfile.mkdtemp(prefix="feredge-test-cache-")
    os.environ["FEREDGE_CACHE"] = _CACHE_DIR


def pytest_unconfigure(config) -> None:
    if _CACHE_DIR:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """In-process CLI tests install SIGINT/SIGTERM handlers (the demo's and training's clean stop); put pytest's
    own back after each test."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return TESTS / "fixtures"
