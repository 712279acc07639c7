"""``python -m train.speed`` prints each recipe's training throughput and the precision it trained in."""

from __future__ import annotations

import pytest

import train.speed as speed

pytestmark = pytest.mark.slow


def test_prints_throughput_and_precision_per_recipe(capsys, monkeypatch):
    monkeypatch.setattr("train.precision.bfloat16_support", lambda gpus, cpuinfo=None: "")
    assert speed.main(["--recipes", "tiny", "--images", "64", "--batch-size", "32", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("tiny:"))
    ips = float(line.split()[1])
    assert ips > 0 and "training images/s in float32" in line and "min per FER2013 epoch" in line
