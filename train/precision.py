"""Which precision a run trains in on this machine: mixed bfloat16 only where the hardware computes it natively."""

from __future__ import annotations

from pathlib import Path

from train.recipes import Recipe


def bfloat16_support(gpus: list, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Why this machine computes bfloat16 natively ("" when it does not): GPUs (:class:`train.backend.Accelerator`)
    of compute capability 8.0 or newer, or a CPU with AVX512-BF16 or AMX-BF16 (read from ``cpuinfo``; other systems
    count as without)."""
    if gpus:
        caps = [tuple(g.compute_capability) for g in gpus]
        return f"GPU compute capability {min(caps)}" if min(caps) >= (8, 0) else ""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    found = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    return f"CPU flags {', '.join(found)}" if found else ""


def training_precision(recipe: Recipe, gpus: list, cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, str]:
    """(precision to train in, why): the recipe's, except that mixed bfloat16 falls back to float32 on hardware
    without bfloat16 units, where TensorFlow emulates it several times slower than float32."""
    if recipe.precision == "float32":
        return "float32", "the recipe's"
    support = bfloat16_support(gpus, cpuinfo)
    if support:
        return recipe.precision, f"the recipe's ({support})"
    return "float32", f"the recipe asks for {recipe.precision}, but this machine has no bfloat16 units: float32 instead"
