"""argparse value types shared by the device and benchmark CLIs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number_type(kind: type, low: float, what: str, high: float | None = None) -> Callable[[str], float]:
    """An argparse ``type=``: parse ``kind`` and require ``low <= value`` (and ``<= high`` when given); NaN and
    infinities are never accepted. ``what`` names the expected value in errors and help."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number: expected {what}")
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what}")
        return value

    parse.__name__ = what
    return parse


def whole(low: int = 1) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number of at least ``low`` (counts, sizes, seeds)."""
    return number_type(int, low, f"a whole number, at least {low}")
