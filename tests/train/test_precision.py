"""Mixed-precision training: bfloat16 maths where the hardware has bfloat16 units, float32 elsewhere, recorded."""

from __future__ import annotations

import json
from dataclasses import replace

import keras
import pytest
from synthetic import write_fer_csv

import train.precision as precision_module
from train.pipeline import train_and_report
from train.precision import bfloat16_support, training_precision
from train.recipes import RECIPES, TINY

BF16_TINY = replace(TINY, name="tiny-bf16", precision="mixed_bfloat16")


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: fpu sse2 avx2 {flags}\n\nprocessor\t: 1\n")
    return path


def test_bfloat16_units_are_read_from_the_cpu_flags(tmp_path):
    assert bfloat16_support([], _cpuinfo(tmp_path, "avx512f amx_tile amx_bf16 avx512_bf16")) == (
        "CPU flags amx_bf16, avx512_bf16")
    assert bfloat16_support([], _cpuinfo(tmp_path, "avx512f")) == ""
    assert bfloat16_support([], tmp_path / "no-such-file") == ""  # not Linux: counts as without


def test_mixed_precision_falls_back_to_float32_without_bfloat16_units(tmp_path):
    assert training_precision(BF16_TINY, [], _cpuinfo(tmp_path, "avx512_bf16"))[0] == "mixed_bfloat16"
    precision, why = training_precision(BF16_TINY, [], _cpuinfo(tmp_path, "avx2"))
    assert precision == "float32" and "no bfloat16 units" in why
    assert training_precision(RECIPES["wide"], [], _cpuinfo(tmp_path, "avx512_bf16"))[0] == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("units", ["avx512_bf16", ""])
def test_a_run_records_the_precision_it_trained_in(tmp_path, monkeypatch, capsys, units):
    monkeypatch.setattr(precision_module, "bfloat16_support", lambda gpus, cpuinfo=None: units)
    data = write_fer_csv(tmp_path / "fer.csv.gz", {"train": 40, "val": 10, "test": 10})
    train_and_report(data, BF16_TINY, ("unweighted",), seed=0, runs_root=tmp_path / "runs", report=False)
    run = tmp_path / "runs" / "tiny-bf16-1ep" / "unweighted-seed0"
    config = json.loads((run / "config.json").read_text())
    expected = "mixed_bfloat16" if units else "float32"
    assert config["precision"] == expected and config["recipe"]["precision"] == "mixed_bfloat16"
    saved = keras.models.load_model(run / "best.keras").get_layer("b0_conv0").compute_dtype
    assert saved == ("bfloat16" if units else "float32")
    assert f"training precision {expected}" in capsys.readouterr().out
    assert 0.0 <= json.loads((run / "metrics.json").read_text())["splits"]["val"]["accuracy"] <= 1.0
