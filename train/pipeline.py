"""Train the requested variants of one recipe and seed, then write the comparison report."""

from __future__ import annotations

from pathlib import Path

from device.dataset import load_fer2013
from train.recipes import Recipe
from train.trainer import RunSpec, check_run_config, train_variant


def train_and_report(
    data: Path,
    recipe: Recipe,
    variants: tuple[str, ...],
    seed: int,
    runs_root: Path,
    threads: int = 0,
    report: bool = True,
    command: str = "",
) -> dict[str, dict]:
    specs = [RunSpec(recipe=recipe, variant=v, seed=seed, runs_root=runs_root, threads=threads, command=command)
             for v in variants]
    for spec in specs:  # a stale run folder fails now, not after the data has loaded and one variant has trained
        check_run_config(spec.run_dir, recipe)
    ds = load_fer2013(data, seed=seed)
    for note in ds.notes:
        print(f"note: {note}")
    results = {}
    for spec in specs:
        variant = spec.variant
        print(f"== {recipe.name} / {variant} / seed {seed} -> {spec.run_dir}")
        results[variant] = train_variant(spec, ds)
        split = "test" if "test" in results[variant]["splits"] else "val"
        m = results[variant]["splits"][split]
        print(f"[{variant}] {split}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}")
    if report and len(results) > 1:
        from train.report import write_comparison_report

        path = write_comparison_report(runs_root / f"{recipe.name}-{recipe.epochs}ep", results, ds, seed, command)
        print(f"report: {path}")
    return results
