"""matplotlib figures for training runs and the comparison report (written atomically, headless backend)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes
from core.labels import EMOTIONS


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _draw_confusion(ax, cm: np.ndarray, title: str) -> None:
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black")


def plot_confusion(cm: np.ndarray, path: Path, title: str) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    _draw_confusion(ax, np.asarray(cm), title)
    return save_figure(fig, path)


def plot_confusions_side_by_side(cms: dict[str, np.ndarray], path: Path, suptitle: str) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, len(cms), figsize=(5.5 * len(cms), 5))
    for ax, (name, cm) in zip(np.atleast_1d(axes), cms.items()):
        _draw_confusion(ax, np.asarray(cm), name)
    fig.suptitle(suptitle)
    return save_figure(fig, path)


def plot_history(history: list[dict], path: Path) -> Path:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ep = [int(r["epoch"]) + 1 for r in history]
    for key, ax in (("loss", a1), ("accuracy", a2)):
        ax.plot(ep, [r.get(key, np.nan) for r in history], label=f"train {key}")
        ax.plot(ep, [r.get(f"val_{key}", np.nan) for r in history], label=f"val {key}")
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_bars(series: dict[str, list[float]], path: Path, title: str, ylabel: str,
              errors: dict[str, list[float]] | None = None, categories: tuple[str, ...] = EMOTIONS) -> Path:
    """Grouped bars, one group per category, one bar per series (optionally with error bars)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(categories) * max(1, len(series)) / 1.5), 3.8))
    n = len(series)
    width = 0.8 / max(n, 1)
    x = np.arange(len(categories))
    for i, (name, vals) in enumerate(series.items()):
        err = errors.get(name) if errors else None
        ax.bar(x + (i - (n - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=name)
    ax.set_xticks(x, categories, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_intervals(series: dict[str, list[tuple[float, float, float, float]]], path: Path, title: str, xlabel: str,
                   ylabel: str) -> Path:
    """One line per series of (x > 0, mean, low, high) points on a log2 x axis, each with its interval as an error
    bar, and y = 0."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    drawn = {name: points for name, points in series.items() if points}
    ticks: set[float] = set()
    for i, (name, points) in enumerate(drawn.items()):
        x, mean, lo, hi = (np.array(v, float) for v in zip(*points))
        ticks.update(x.tolist())
        shift = 2.0 ** ((i - (len(drawn) - 1) / 2) * 0.04)  # series side by side at the same x
        ax.errorbar(x * shift, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=name)
    ax.set_xscale("log", base=2)  # budgets that double are evenly spaced
    if ticks:
        ax.set_xticks(sorted(ticks), [f"{t:g}" for t in sorted(ticks)])
        ax.set_xlim(min(ticks) / 1.4, max(ticks) * 1.4)
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.minorticks_off()
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return save_figure(fig, path)


def plot_tradeoff(curves: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Accuracy against balanced accuracy as tau grows, one line per curve (``core.balance.tradeoff_curve`` rows,
    fractions), its tau-0 end marked: where class weights and prior correction sit on the same axes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, rows in curves.items():
        xs = [100 * r["balanced_accuracy"] for r in rows]
        ys = [100 * r["accuracy"] for r in rows]
        ax.plot(xs, ys, marker="o", ms=3, label=f"{name}: tau {rows[0]['tau']:g}..{rows[-1]['tau']:g}")
        ax.annotate("tau 0", (xs[0], ys[0]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("balanced accuracy %")
    ax.set_ylabel("accuracy %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
