"""``python -m train.results --readme README.md``: regenerate the README's results section from the outputs.

The section between ``<!-- results:begin -->`` and ``<!-- results:end -->`` is rebuilt from ``models/manifest.json``
and ``reports/study/*/study.json``; nothing in it is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.balance import tradeoff_answer
from core.manifest import ManifestError, conversions, manifest_path, read_manifest
from core.paths import project_root, shown
from core.readme import block, markers, update_file

BLOCK = "results"  # the README block this module writes (core.readme)
BEGIN, END = markers(BLOCK)


def _lineage(training: dict) -> str:
    """", fine-tuned from `A`, distilled from `B` + `C` (...); N min with the runs it needed first" or ""."""
    init, t, soup = training.get("init_from"), training.get("teachers"), training.get("soup")
    parts = []
    if soup:
        parts.append(f"the weight average of {' + '.join(f'`{r}`' for r in soup['runs'])}")
    if init:
        start = f" ({100 * init['val_accuracy']:.2f}% on val)" if init.get("val_accuracy") is not None else ""
        parts.append(f"fine-tuned from `{init['run']}`{start}")
    if t:
        by = f" (by way of `{t['via']}`)" if t.get("via") else ""
        parts.append(f"distilled from {' + '.join(f'`{r}`' for r in t['runs'])}{by} (their ensemble: "
                     f"{100 * t['val_accuracy']:.2f}% on val)")
    if not parts:
        return ""
    total = training.get("total_train_min")
    total_text = f"; {total:.0f} min with the runs it needed first" if total else ""
    return f", {', '.join(parts)}{total_text}; full budget in the manifest"


def _own_work(training: dict) -> str:
    """What the run itself trained: "N epochs in M min", or that it trained none (a weight average)."""
    if training.get("soup") and not training.get("completed_epochs"):
        return "no epochs of its own"
    return f"{training.get('completed_epochs')} epochs in {(training.get('train_wall_s') or 0) / 60:.0f} min"


def _interval(a: dict) -> str:
    """Wilson 95% interval of an accuracy measured on ``a['n']`` faces, as "lo-hi" in %."""
    from scipy.stats import binomtest

    n = int(a["n"])
    ci = binomtest(round(a["accuracy"] * n), n).proportion_ci(0.95, method="wilson")
    return f"{100 * ci.low:.1f}-{100 * ci.high:.1f}"


def models_section(manifest: dict, models_dir: str) -> list[str]:
    entries = manifest.get("models", [])
    if not entries:
        return ["No models in the manifest yet (`make train convert`)."]

    split = next(iter(entries[0]["accuracy"]), None)
    trained = {e["variant"]: e["training"] for e in entries}
    made = "; ".join(f"`{cmd}` ({', '.join(variants)})" for cmd, variants in conversions(entries, manifest).items())
    lines = [
        f"Shipped models (`{models_dir}/`), from `{models_dir}/manifest.json`, converted by "
        f"{made} on `{manifest.get('host')}`. Accuracy on **{split}** in the TF-free "
        "interpreter (with the development data this is FER2013 PublicTest, which also selected the checkpoint; "
        "PrivateTest is withheld). Trained by:",
        "",
        *[f"- {v}: `{t.get('command')}` on `{t.get('host')}` ({t.get('platform')}), {_own_work(t)}{_lineage(t)}"
          for v, t in trained.items()],
        "",
        "views 2: the model classifies each face and its mirror image as one batch and outputs the mean scores "
        "(`python -m convert --mirror`, the default; its Keras reference is the same mirrored graph); views 1: one "
        "pass (`make convert CONVERT_ARGS=--no-mirror`). Keras one view: the training checkpoint alone, as "
        "`make train` scored it. The 95% interval is Wilson's for a proportion (`scipy.stats.binomtest`) over the "
        "split's faces: sampling noise only, not the optimism of having selected the checkpoint on the same split.",
        "",
        "| model | views | size KB | accuracy % (95% interval) | vs Keras (pp) | macro-F1 % | agreement with Keras % "
        "| Keras one view % | epochs (best) | train time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        a = e["accuracy"].get(split, {}) if split else {}
        k = e["keras"].get(split, {}) if split else {}
        tr = e["training"]
        acc = (f"{100 * a['accuracy']:.2f}" + (f" ({_interval(a)})" if a.get("n") else "")) if a else "n/a"
        drop = f"{100 * (a['accuracy'] - k['accuracy']):+.2f}" if a and k else "n/a"
        f1 = f"{100 * a['macro_f1']:.2f}" if a else "n/a"
        agree = f"{100 * a['agreement']:.2f}" if a else "n/a"
        wall = f"{tr['train_wall_s'] / 60:.0f} min" if tr.get("train_wall_s") else "n/a"
        one = (tr.get("keras_metrics") or {}).get(split, {}).get("accuracy") if split else None
        one_view = f"{100 * one:.2f}" if one is not None else "n/a"
        views = 2 if e.get("mirror_average") else 1
        lines.append(f"| {e['file']} | {views} | {e['size_bytes'] / 1024:.1f} | {acc} | {drop} | {f1} | {agree} | "
                     f"{one_view} | {tr.get('completed_epochs')} ({tr.get('best_epoch')}) | {wall} |")
    return lines


def study_section(study: dict, path: str) -> list[str]:
    from train.study_report import answer, mean_sd, paired

    meta = study["meta"]
    n = len(study["seeds"])

    def ms(var: str, k: str) -> str:
        return mean_sd(study, var, k)

    def pd(k: str) -> str:
        return paired(study, k)

    lines = [
        f"**Do class weights help? ({meta['recipe']} recipe, {meta['epochs']} epochs)** {answer(study)}",
        "",
        f"Study (`{path}`): `{meta['command']}`, {meta['recipe']} recipe, {meta['epochs']} epochs, seeds "
        f"{', '.join(map(str, study['seeds']))}, metrics on **{study['split']}** in %, mean ± s.d. over {n} seeds; "
        "paired difference weighted - unweighted with its 95% t-interval.",
        "",
        "| figure | study claims (unweighted -> weighted) | unweighted here | weighted here | paired difference |",
        "|---|---|---|---|---|",
    ]
    for k, (a, b) in study["claims"].items():
        lines.append(f"| {k} | {a:.1f} -> {b:.1f} ({b - a:+.1f}) | {ms('unweighted', k)} | {ms('weighted', k)} "
                     f"| {pd(k)} |")
    for k in ("balanced_accuracy", "macro_f1", "recall disgust", "precision fear", "recall happy"):
        lines.append(f"| {k.replace('_', ' ')} | - | {ms('unweighted', k)} | {ms('weighted', k)} | {pd(k)} |")
    return lines


STUDY_KEYS = ("meta", "seeds", "claims")  # what study_section reads of a study.json


class ResultsError(ValueError):
    """An input of the results block cannot be used; the message names the file."""


def read_study(path: Path) -> dict:
    """A study.json (``python -m train.study``'s), checked for what the section reads; ResultsError naming it."""
    try:
        study = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not a readable study.json ({exc})") from exc
    missing = [k for k in STUDY_KEYS if not isinstance(study, dict) or k not in study]
    if missing:
        raise ResultsError(f"{path}: no {', '.join(missing)}: expected a study.json of python -m train.study")
    return study


def render(models_dir: Path, studies: list[Path], root: Path | None = None) -> str:
    """The generated block; paths are shown relative to ``root`` (the README's folder; default: the project root)."""
    out = [BEGIN, "", "_Generated by `make readme` (`python -m train.results`); do not edit by hand._", ""]
    manifest = read_manifest(models_dir)
    out += (models_section(manifest, shown(models_dir, root)) if manifest["models"]
            else [f"No models in {shown(manifest_path(models_dir), root)}."])
    for s in studies:
        out += ["", *study_section(read_study(s), shown(s, root))]
    base = root or project_root()
    for b in sorted((base / "reports" / "study").glob("*-budgets/budgets.json")):
        plot = b.with_name("budgets.png")
        out += ["", *budgets_section(json.loads(b.read_text()), shown(b, root),
                                     shown(plot, root) if plot.is_file() else None)]
    tradeoff = base / "reports" / "tradeoff" / "tradeoff.json"
    if tradeoff.is_file():
        out += ["", *tradeoff_section(json.loads(tradeoff.read_text()), shown(tradeoff, root))]
    out += ["", END]
    return "\n".join(out)


def budgets_section(budgets: dict, path: str, image: str | None = None) -> list[str]:
    """The study's answer per training budget (``make study STUDY_EPOCHS="16 32 64"``)."""
    from train.study_report import render_budgets

    body = render_budgets(budgets, image).splitlines()[2:]  # without its title: the answer in words comes first
    return [f"**Across training budgets** (`{path}`):", "", *body]


def tradeoff_section(result: dict, path: str) -> list[str]:
    """The knob's alternative to class weights (``python -m benchmarks tradeoff``), in plain words."""
    if not {"unweighted", "weighted"} <= set(result.get("variants", {})):
        return []
    return [f"**A knob instead of a second model** (`{path}`, `{result.get('command')}`, {result['format']} models "
            f"on {result['split']}): {tradeoff_answer(result)} `python -m device --balance TAU` applies it."]


def default_studies(root: Path) -> list[Path]:
    """The study reports under ``reports/study/<recipe>-<E>ep/``, by recipe and then by budget (16 before 128)."""
    def key(path: Path) -> tuple[str, int, str]:
        recipe, _, epochs = path.parent.name.rpartition("-")
        return (recipe, int(epochs[:-2]), "") if epochs.endswith("ep") and epochs[:-2].isdigit() else (
            path.parent.name, -1, path.parent.name)

    return sorted((root / "reports" / "study").glob("*/study.json"), key=key)


def generated_block(readme_text: str) -> str:
    """The README's current results block, markers included (core.readme.MarkerError, a ValueError, without them)."""
    return block(readme_text, BLOCK)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m train.results", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--readme", type=Path, default=project_root() / "README.md", help="file with the results markers")
    ap.add_argument("--models", type=Path, default=None,
                    help="models folder with manifest.json (default: models/ beside the README)")
    ap.add_argument("--studies", type=Path, nargs="*", default=None,
                    help="study.json files (default: reports/study/*/study.json beside the README)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = args.readme.parent
    models = args.models if args.models is not None else root / "models"
    studies = args.studies if args.studies is not None else default_studies(root)
    try:
        text = render(models, studies, root)  # every input read (and checked) before the README is touched
    except (ResultsError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return update_file(args.readme, BLOCK, text)


if __name__ == "__main__":
    raise SystemExit(main())
