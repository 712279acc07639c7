"""argparse value types shared by the device and benchmark CLIs."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def number_type(kind: type, low: float, what: str) -> Callable[[str], float]:
    """An argparse ``type=``: parse ``kind`` and require ``>= low``; ``what`` names it in errors and help."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what}")
        return value

    parse.__name__ = what
    return parse
