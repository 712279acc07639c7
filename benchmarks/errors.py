"""The one exception type the CLI turns into a one-line error and exit code 2."""

from __future__ import annotations


class BenchError(Exception):
    """Bad input (models folder, data, clip, options): the message says what is wrong and what to do."""
