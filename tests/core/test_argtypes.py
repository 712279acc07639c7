"""argparse value types shared by the device and benchmark CLIs."""

from __future__ import annotations

import argparse

import pytest

from core.argtypes import number_type, whole


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_float_rejects_nan_and_inf(text: str) -> None:
    parse = number_type(float, 0.0, "a number >= 0")
    with pytest.raises(argparse.ArgumentTypeError, match="not a finite number.*expected a number >= 0"):
        parse(text)


def test_bounds_and_kinds() -> None:
    count = number_type(int, 0, "an integer >= 0")
    assert count("0") == 0 and isinstance(count("3"), int)
    with pytest.raises(argparse.ArgumentTypeError, match="'-1': expected an integer >= 0"):
        count("-1")
    with pytest.raises(argparse.ArgumentTypeError, match="'inf' is not an integer >= 0"):
        count("inf")
    fraction = number_type(float, 0.0, "a number in 0..1", high=1.0)
    assert fraction("0") == 0.0 and fraction("1") == 1.0 and fraction("0.25") == 0.25
    for text in ("1.01", "-0.01", "1e6"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a number in 0..1"):
            fraction(text)
    assert number_type(float, 1.0, "a number >= 1")("1e6") == 1e6  # no upper bound unless asked


def test_whole_numbers_from_a_low_bound() -> None:
    assert whole(0)("0") == 0 and whole()("3") == 3
    for text in ("0", "-2", "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="a whole number, at least 1"):
            whole(1)(text)
