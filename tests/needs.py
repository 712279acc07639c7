"""What some tests need from the machine, skipped with the reason locally and required on CI: ``.ci/run`` sets a
switch for each, and under it a missing need fails the test instead (a test that must run on CI can never vanish
as a skip while CI stays green).

- ``FEREDGE_REQUIRE_DATA``: ``../shared/data`` (FER2013 and the real photos; CI runs with ``../shared`` beside the
  clone);
- ``FEREDGE_REQUIRE_SSHD``: ssh and sshd for the SSH deployment tests (``tests/deploy/deploy_helpers.py``);
- ``FEREDGE_REQUIRE_BROWSER``: chromium, chromium-driver and selenium for the web view's browser test.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_DATA = "FEREDGE_REQUIRE_DATA"


def unavailable(switch: str, reason: str, why: str) -> NoReturn:
    """Skip with ``reason``; fail instead where ``switch`` is set (to anything but "0"), saying ``why`` it must
    run there."""
    if os.environ.get(switch, "").strip() not in ("", "0"):
        pytest.fail(f"{reason} [{switch}=1: {why}]", pytrace=False)
    pytest.skip(reason)


def data_missing(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead under ``FEREDGE_REQUIRE_DATA``."""
    unavailable(REQUIRE_DATA, reason, "this run must have ../shared/data")
