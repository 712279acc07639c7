"""train.backend: the compute capability the precision choice reads, the backend record, unknown backends; and the
GPU branch of train.precision that the lent GPU machines take (the CPU tests pass no GPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from train import backend
from train.backend import Accelerator, Backend, _capability
from train.precision import bfloat16_support


@pytest.mark.parametrize(("given", "expected"), [
    ("9.0", (9, 0)), ("8.6", (8, 6)), ((7, 5), (7, 5)), ([8, 0], (8, 0)), ("7.5.1", (7, 5)),
    (None, (0, 0)), ("", (0, 0)), ("unknown", (0, 0)),
])
def test_compute_capability_from_each_frameworks_form(given, expected) -> None:
    assert _capability(given) == expected


def test_the_record_names_the_framework_its_version_and_the_gpus() -> None:
    b = Backend("jax", "0.4.30", [Accelerator("NVIDIA H100", (9, 0)), Accelerator("NVIDIA H100", (9, 0))])
    assert b.record() == {"backend": "jax", "jax": "0.4.30", "gpus": ["NVIDIA H100", "NVIDIA H100"]}


def test_an_unknown_keras_backend_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setattr(backend.keras.backend, "backend", lambda: "numpy")
    with pytest.raises(RuntimeError, match="Keras backend 'numpy': training supports tensorflow, jax, torch"):
        backend.configure()


@pytest.mark.parametrize(("caps", "native"), [
    ([(9, 0)], True), ([(8, 0)], True), ([(7, 5)], False), ([(9, 0), (7, 5)], False), ([(0, 0)], False),
])
def test_bfloat16_on_gpus_needs_compute_capability_8_on_every_one(tmp_path: Path, caps, native) -> None:
    """Ampere (8.0) and newer compute bfloat16; one older GPU in the mix rules it out. The CPU's flags do not
    count when there are GPUs."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx512_bf16 amx_bf16\n")
    why = bfloat16_support([Accelerator(f"gpu{i}", c) for i, c in enumerate(caps)], cpuinfo)
    assert bool(why) is native
    if native:
        assert why.startswith("GPU compute capability")
