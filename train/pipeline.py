"""Train the requested variants of one recipe and seed, then write the comparison report.

Importing this module does not start TensorFlow: the plan and every check on it (stale run folders, class weights
the data cannot support) run first, so bad input is reported in a second, not after TensorFlow's start-up.
"""

from __future__ import annotations

from pathlib import Path

from core.dataset import Dataset, evaluation_split
from core.devicecrops import build_hint, crops_for_training, device_crops_path
from core.paths import shown
from device.datasets import load_fer2013
from train.archive import kept_run, restore_kept
from train.carry import carried_for
from train.recipes import RECIPES, VARIANTS, Recipe
from train.runs import (
    ClassWeightError,
    RunNameError,
    RunRef,
    RunSpec,
    check_run_config,
    class_weights,
    init_run_name,
    read_log,
    run_state,
    soup_run_names,
)
from train.teachers import Teacher, TeacherFileError, parse_teacher


class TeacherError(ValueError):
    """A recipe names a teacher (or starting) run that cannot be parsed into a recipe, epochs, variant and seed."""


def _run_spec(recipe: Recipe, role: str, name: str, runs_root: Path, threads: int, command: str) -> RunSpec:
    """The run in folder ``<recipe>-<E>ep/<variant>-seed<S>`` that ``recipe`` needs as its ``role``."""
    try:
        ref = RunRef.parse(name)
    except RunNameError as exc:
        raise TeacherError(f"recipe {recipe.name!r}: {role} {exc}") from None
    if ref.recipe not in RECIPES or ref.variant not in VARIANTS:
        raise TeacherError(
            f"recipe {recipe.name!r}: {role} {name!r} is not <recipe>-<epochs>ep/<variant>-seed<seed> "
            f"with a recipe of {sorted(RECIPES)} and a variant of {list(VARIANTS)}"
        )
    return RunSpec(recipe=RECIPES[ref.recipe].with_epochs(ref.epochs), variant=ref.variant, seed=ref.seed,
                   runs_root=runs_root, threads=threads, command=command)


def recipe_teachers(recipe: Recipe, runs_root: Path) -> list[Teacher]:
    """Every teacher a distilling recipe names, each name parsed once (TeacherError for one that is neither a run nor
    a model file)."""
    try:
        return [parse_teacher(name, runs_root) for name in recipe.teachers]
    except RunNameError as exc:
        raise TeacherError(f"recipe {recipe.name!r}: teacher {exc}") from None


def model_teachers(recipe: Recipe, runs_root: Path) -> list[Teacher]:
    """The converted models (``<path>.tflite#sha256=...``) a distilling recipe learns from, each checked: a missing
    file or one with another digest raises TeacherError before anything loads."""
    return _checked_files(recipe, recipe_teachers(recipe, runs_root))


def _checked_files(recipe: Recipe, teachers: list[Teacher]) -> list[Teacher]:
    """The model-file teachers among ``teachers``, each checked (TeacherError naming the file)."""
    found = [t for t in teachers if not t.is_run]
    for teacher in found:
        try:
            teacher.check()
        except TeacherFileError as exc:
            raise TeacherError(f"recipe {recipe.name!r}: {exc}") from None
    return found


def teacher_specs(recipe: Recipe, runs_root: Path, threads: int = 0, command: str = "") -> list[RunSpec]:
    """The runs a distilling recipe learns from, parsed from folder names ``<recipe>-<E>ep/<variant>-seed<S>``
    (its model-file teachers are checked, not trained: :func:`model_teachers`)."""
    teachers = recipe_teachers(recipe, runs_root)
    _checked_files(recipe, teachers)
    return [_run_spec(recipe, "teacher", t.run.name, runs_root, threads, command) for t in teachers
            if t.run is not None]


def init_spec(recipe: Recipe, variant: str, seed: int, runs_root: Path, threads: int = 0,
              command: str = "") -> RunSpec | None:
    """The run whose best checkpoint a fine-tuning recipe starts from (for this variant and seed), if any."""
    if not recipe.init_from:
        return None
    return _run_spec(recipe, "init_from", init_run_name(recipe, variant, seed), runs_root, threads, command)


def soup_specs(recipe: Recipe, variant: str, seed: int, runs_root: Path, threads: int = 0,
               command: str = "") -> list[RunSpec]:
    """The runs a soup recipe averages (for this variant and seed); none for other recipes."""
    return [_run_spec(recipe, "soup", name, runs_root, threads, command)
            for name in soup_run_names(recipe, variant, seed)]


def prerequisite_specs(recipe: Recipe, variants: tuple[str, ...], seed: int, runs_root: Path, threads: int = 0,
                       command: str = "") -> list[RunSpec]:
    """Every run ``recipe`` needs before its own runs (teachers, starting checkpoints, a soup's members), theirs
    first, no repeats."""
    needed = teacher_specs(recipe, runs_root, threads, command)
    needed += [s for v in variants if (s := init_spec(recipe, v, seed, runs_root, threads, command)) is not None]
    needed += [s for v in variants for s in soup_specs(recipe, v, seed, runs_root, threads, command)]
    ordered: list[RunSpec] = []
    for spec in needed:
        for dep in [*prerequisite_specs(spec.recipe, (spec.variant,), spec.seed, runs_root, threads, command), spec]:
            if all(dep.run_dir != o.run_dir for o in ordered):
                ordered.append(dep)
    return ordered


_STATE_WORDS = {
    "complete": "done, reused",
    "trained": "trained, to be evaluated",
    "partial": "resumes from its last finished epoch",
    "new": "to train",
}


def run_status(spec: RunSpec) -> tuple[str, list[dict]]:
    """A run's state and, when it is partial, its log rows (one read of ``log.csv``)."""
    state = run_state(spec)
    return state, read_log(spec.run_dir / "log.csv") if state == "partial" else []


def epochs_done(spec: RunSpec, status: tuple[str, list[dict]] | None = None) -> int:
    """Epochs ``spec``'s run has behind it (``status``: its :func:`run_status`, when the caller has it): its log's,
    or, for a run with no folder yet, its carried state's (a new checkout resumes from there)."""
    state, log = status or run_status(spec)
    if state == "new" and (carried := carried_for(spec)) is not None:
        return carried.epoch
    return len(log)


def plan_line(spec: RunSpec, runs_root: Path, prefix: str = "", status: tuple[str, list[dict]] | None = None,
              needed: bool = False) -> str:
    """One run's folder, epochs and state (for the training and study plans); ``status``: its
    :func:`run_status`, when the caller has it; ``needed``: a run another needs first, for which a kept copy
    (:func:`train.archive.restore_kept`) is used."""
    state, log = status or run_status(spec)
    words = _STATE_WORDS[state]
    if state == "new" and needed and (kept := kept_run(spec.ref)) is not None:
        words = f"kept in {shown(kept)}: put in place, not trained"
    if state == "new" and (carried := carried_for(spec)) is not None:
        words = f"resumes after epoch {carried.epoch} from its carried state, {shown(carried.folder)}"
    if state == "partial":
        best = max((row["val_accuracy"] for row in log if "val_accuracy" in row), default=None)
        words = f"resumes after epoch {len(log)}" + (f", best val_accuracy so far {best:.4f}" if best else "")
    epochs = spec.recipe.epochs
    return f"  {prefix}{spec.run_dir.relative_to(runs_root)} ({epochs} epoch{'s' * (epochs != 1)}, {words})"


def plan_lines(recipe: Recipe, variants: tuple[str, ...], seed: int, runs_root: Path) -> list[str]:
    """What ``python -m train`` will do, in order, one line per run: its folder, epochs and state. A recipe that
    starts from other runs (teachers, a starting checkpoint) trains those first with their own epochs, whatever
    ``--epochs`` says; the plan says so before anything starts."""
    lines = [plan_line(spec, runs_root, "needed first: ", needed=True)
             for spec in prerequisite_specs(recipe, variants, seed, runs_root)]
    lines += [f"  teacher model: {t.located()} (sha256 {t.digest}..., checked)"
              for t in model_teachers(recipe, runs_root)]
    if recipe.device_crops:
        path = device_crops_path(runs_root, recipe.device_crops)
        state = "present, checked against the data when it loads" if path.is_file() else \
            f"missing: {build_hint(recipe.device_crops, runs_root)}"
        lines.append(f"  device crops ({recipe.device_crops}, share {recipe.device_crop_share:g}): {path} ({state})")
    for v in variants:
        lines.append(plan_line(RunSpec(recipe=recipe, variant=v, seed=seed, runs_root=runs_root), runs_root))
    return lines


def plan_text(recipe: Recipe, variants: tuple[str, ...], seed: int, runs_root: Path) -> str:
    """The plan ``python -m train`` prints first (and alone with ``--plan``), headed by what the recipe's model costs
    (:meth:`Recipe.cost`)."""
    params, macs = recipe.cost()
    return "\n".join([f"plan ({recipe.name}, seed {seed}, under {runs_root}; the model: {params:,} parameters, "
                      f"{macs / 1e6:.1f}M multiply-adds a face):", *plan_lines(recipe, variants, seed, runs_root)])


def check_run_folders(recipe: Recipe, variants: tuple[str, ...], seed: int, runs_root: Path) -> list[RunSpec]:
    """Every run of the plan (this recipe's and those it needs first); a stale run folder raises RunMismatchError
    before the data loads."""
    specs = [RunSpec(recipe=recipe, variant=v, seed=seed, runs_root=runs_root) for v in variants]
    specs += prerequisite_specs(recipe, variants, seed, runs_root)
    for spec in specs:
        check_run_config(spec.run_dir, spec.recipe)
    return specs


def check_class_weights(specs: list[RunSpec], ds: Dataset) -> None:
    """A weighted run still to train on a training split that lacks a class fails now (ClassWeightError), not
    after the unweighted runs have trained."""
    if any(s.variant == "weighted" and run_state(s) != "complete" for s in specs):
        try:
            class_weights(ds.splits["train"].y)
        except ClassWeightError as exc:
            raise ClassWeightError(f"{ds.source}: {exc}") from None


def check_device_crops(specs: list[RunSpec], ds: Dataset) -> None:
    """A run still to train on device crops fails now when their file is missing or was cut from other training
    images (DeviceCropsError naming the file and the command that builds it), not after TensorFlow's start-up."""
    needed = {(spec.runs_root, spec.recipe.device_crops): spec.recipe.name for spec in specs
              if spec.recipe.device_crops and run_state(spec) != "complete"}  # each file read once
    for (runs_root, detector), recipe in needed.items():
        crops_for_training(runs_root, detector, ds.splits["train"].x, recipe)


def _train_prerequisites(recipe: Recipe, variants: tuple[str, ...], seed: int, ds: Dataset, runs_root: Path,
                         threads: int, command: str) -> None:
    """Train (or resume) whichever runs ``recipe`` needs that are not complete yet, their own needs first."""
    from train.trainer import train_variant

    for spec in prerequisite_specs(recipe, variants, seed, runs_root, threads, command):
        print(f"== needed by {recipe.name}: {spec.recipe.name} / {spec.variant} / seed {spec.seed} -> {spec.run_dir}")
        kept = restore_kept(spec.ref, runs_root)
        if kept is not None:
            print(f"[{spec.variant}] {spec.run_dir}: the kept run {shown(kept)} (its record and model) put in place")
        train_variant(spec, ds)  # a complete run is skipped, an interrupted one resumes


def train_and_report(
    data: Path | Dataset,
    recipe: Recipe,
    variants: tuple[str, ...],
    seed: int,
    runs_root: Path,
    threads: int = 0,
    report: bool = True,
    command: str = "",
) -> dict[str, dict]:
    """Train (or resume, or evaluate) the runs of ``recipe`` for ``variants``, the runs it needs first, and write
    the comparison report. ``data`` is a path or an already loaded :class:`Dataset`.

    Everything that can fail on bad input (stale run folders, the data, class weights) is checked before
    TensorFlow is imported."""
    specs = [RunSpec(recipe=recipe, variant=v, seed=seed, runs_root=runs_root, threads=threads, command=command)
             for v in variants]
    planned = check_run_folders(recipe, variants, seed, runs_root)  # a stale run folder fails before the data loads
    if isinstance(data, Dataset):
        ds = data
    else:
        ds = load_fer2013(data, seed=seed)
        for note in ds.notes:
            print(f"note: {note}")
    check_class_weights(planned, ds)
    check_device_crops(planned, ds)
    print(plan_text(recipe, variants, seed, runs_root), flush=True)
    if recipe.epochs != RECIPES.get(recipe.name, recipe).epochs and len(planned) > len(variants):
        print(f"note: {recipe.epochs} epochs apply to {recipe.name}'s own runs; the runs it needs first keep "
              "their own epochs (listed above). For a few-minute run of the whole chain: make quickstart DATA=...",
              flush=True)
    from train.trainer import train_variant

    _train_prerequisites(recipe, variants, seed, ds, runs_root, threads, command)
    results = {}
    for spec in specs:
        variant = spec.variant
        print(f"== {recipe.name} / {variant} / seed {seed} -> {spec.run_dir}")
        results[variant] = train_variant(spec, ds)
        split = evaluation_split(results[variant]["splits"])
        m = results[variant]["splits"][split]
        print(f"[{variant}] {split}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}")
    if report and len(results) > 1:
        from train.report import write_comparison_report

        path = write_comparison_report(runs_root / f"{recipe.name}-{recipe.epochs}ep", results, ds, seed, command)
        print(f"report: {path}")
    return results
