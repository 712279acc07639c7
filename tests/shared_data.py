"""What the tests need from ``../shared/data`` (FER2013 and the real photos): a skip with the reason locally, a
failure where ``FEREDGE_REQUIRE_DATA`` is set (``.ci/run`` sets it: CI runs with ``../shared`` beside the clone, so
a test that needs the data must run there, never vanish as a skip while CI stays green)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_DATA = "FEREDGE_REQUIRE_DATA"


def data_missing(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead under ``FEREDGE_REQUIRE_DATA``."""
    if os.environ.get(REQUIRE_DATA):
        pytest.fail(f"{reason} ({REQUIRE_DATA} is set: this run must have ../shared/data)")
    pytest.skip(reason)
