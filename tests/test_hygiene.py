"""The suite leaves nothing behind: no cache in the home folder, no signal handlers of the code under test."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

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
    if not _MARK:  # selected alone (-k): there is nothing to get back
        pytest.skip("checks what the test above leaves; run the file, not this test alone")
    assert signal.getsignal(signal.SIGTERM) is not _MARK[0]


def test_every_mutant_still_applies_and_names_existing_tests():
    """The mutation check (``make mutation``, not run in CI) goes stale silently when a mutated line is rewritten:
    each mutant's text must occur exactly once in its file, and the tests it names must exist."""
    from mutation import MUTANTS, ROOT

    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for m in MUTANTS:
        source = (ROOT / m.file).read_text(encoding="utf-8")
        assert source.count(m.old) == 1, f"mutant {m.name}: its text occurs {source.count(m.old)} times in {m.file}"
        for test in m.tests:
            path, _, name = test.partition("::")
            assert (ROOT / path).is_file(), f"mutant {m.name}: {path} missing"
            if name:
                assert f"def {name.split('[')[0]}(" in (ROOT / path).read_text(encoding="utf-8"), (m.name, test)
