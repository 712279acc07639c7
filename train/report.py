"""Comparison report (markdown + PNG) of the unweighted and class-weighted variants of one training seed."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from core.dataset import Dataset, evaluation_split
from core.fileio import atomic_write_text
from core.labels import EMOTIONS
from train.plots import plot_bars, plot_confusions_side_by_side
from train.runs import class_weights


def eval_split(results: dict[str, dict]) -> str:
    """The split reports use: test where every run has it, else validation."""
    return evaluation_split(*(r["splits"] for r in results.values()))


def metrics_table(results: dict[str, dict], split: str) -> list[str]:
    rows = ["| variant | accuracy % | balanced acc. % | macro-F1 % | best epoch | train time |",
            "|---|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["splits"][split]
        rows.append(
            f"| {name} | {100 * m['accuracy']:.2f} | {100 * m['balanced_accuracy']:.2f} | {100 * m['macro_f1']:.2f} "
            f"| {r['best_epoch']}/{r['completed_epochs']} | {r['train_wall_s'] / 60:.1f} min"
            f"{f' ({n} sessions)' if (n := r.get('sessions', 1)) > 1 else ''} |"
        )
    return rows


def per_class_table(results: dict[str, dict], split: str) -> list[str]:
    names = list(results)
    head = "| class | support | " + " | ".join(
        f"{n} {k}" for k in ("recall (=class acc.)", "precision") for n in names
    ) + " |"
    rows = [head, "|" + "---|" * (2 + 2 * len(names))]
    first = results[names[0]]["splits"][split]["per_class"]
    for c in EMOTIONS:
        vals = [100 * results[n]["splits"][split]["per_class"][c][k] for k in ("recall", "precision") for n in names]
        rows.append(f"| {c} | {first[c]['support']} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    return rows


def write_comparison_report(out_dir: Path, results: dict[str, dict], ds: Dataset, seed: int, command: str = "") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    split = eval_split(results)
    counts = ds.splits["train"].class_counts()
    weights = class_weights(ds.splits["train"].y)
    plot_bars({"class weight N/(K N_k)": [weights[k] for k in range(len(EMOTIONS))]},
              out_dir / "class_weights.png", "Inverse-frequency class weights (training split)", "weight")
    plot_confusions_side_by_side(
        {n: np.asarray(r["splits"][split]["confusion_matrix"]) for n, r in results.items()},
        out_dir / f"confusion_{split}.png", f"Confusion matrices ({split}, row-normalised)")
    for key in ("recall", "precision"):
        plot_bars(
            {n: [r["splits"][split]["per_class"][c][key] for c in EMOTIONS] for n, r in results.items()},
            out_dir / f"per_class_{key}.png", f"Per-class {key} ({split})", key)
    lines = [
        f"# Class weights or not: {out_dir.name}, seed {seed}",
        "",
        f"Generated {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} by "
        f"`{command or ' '.join(['python', '-m', 'train', *sys.argv[1:]])}`. Data: `{ds.source}`.",
        f"Metrics on **{split}** ({len(ds.splits[split])} images), best checkpoint by validation accuracy, "
        "inference mode. One seed only: see `make study` for the multi-seed answer.",
        *[f"\nNote: {n}" for n in ds.notes],
        "",
        "## Overall",
        "",
        *metrics_table(results, split),
        "",
        "## Class weights (training split)",
        "",
        "| class | images | weight |",
        "|---|---|---|",
        *[f"| {c} | {int(counts[k])} | {weights[k]:.3f} |" for k, c in enumerate(EMOTIONS)],
        "",
        "![class weights](class_weights.png)",
        "",
        "## Per class",
        "",
        *per_class_table(results, split),
        "",
        "![recall](per_class_recall.png) ![precision](per_class_precision.png)",
        "",
        "## Confusion matrices",
        "",
        f"![confusion](confusion_{split}.png)",
        "",
    ]
    path = out_dir / f"report-seed{seed}.md"
    atomic_write_text(path, "\n".join(lines))
    return path
