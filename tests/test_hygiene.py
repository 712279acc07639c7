"""The suite leaves nothing behind: no cache in the home folder, no signal handlers of the code under test."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

_MARK = []


def test_dataset_cache_is_a_temporary_folder():
    cache = Path(os.environ["FEREDGE_CACHE"]).resolve()
    assert cache.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not cache.is_relative_to(Path.home().resolve() / ".cache")


def test_a_test_that_installs_a_signal_handler():
    def handler(signum, frame):
        raise KeyboardInterrupt

    _MARK.append(handler)
    signal.signal(signal.SIGTERM, handler)  # as the demo's and training's CLIs do in-process


def test_the_next_test_gets_the_handler_back():
    assert _MARK, "runs after the test above (file order)"
    assert signal.getsignal(signal.SIGTERM) is not _MARK[0]
