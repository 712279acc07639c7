"""``python -m convert.priors``: record the training split's class priors in an existing models manifest.

``python -m convert`` records each model's ``class_priors`` from its training run. Models converted before that
(or whose run folder is gone) lack them, and the device's ``--balance`` needs them. This command computes the shares
from the Training split of ``--data`` (the data the models were trained on) and writes them into every manifest
entry that has none (``--force``: into every entry), without touching the model files. No TensorFlow needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.balance import priors_from_counts
from core.dataset import DataError
from core.manifest import ManifestError, read_manifest, write_manifest
from core.paths import project_root
from device.datasets import load_fer2013


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m convert.priors", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="FER2013 csv(.gz)/folder the models were trained on")
    p.add_argument("--models", type=Path, default=project_root() / "models", help="models folder (manifest.json)")
    p.add_argument("--force", action="store_true", help="overwrite priors already recorded")
    return p


def add_priors(models: Path, data: Path, force: bool = False) -> list[str]:
    """Write the priors; returns the files whose entries changed."""
    manifest = read_manifest(models)
    if not manifest["models"]:
        raise ManifestError(f"{models / 'manifest.json'}: no models to record priors for")
    train = load_fer2013(data, require_val=False).splits["train"]
    try:
        priors = priors_from_counts(train.class_counts())
    except ValueError as exc:
        raise DataError(f"{data}: Training split: {exc} (a class with no face has no prior)") from exc
    changed = []
    for entry in manifest["models"]:
        if force or not entry.get("class_priors"):
            entry["class_priors"] = priors
            entry["class_priors_source"] = f"Training split of {Path(data).name} ({len(train)} faces)"
            changed.append(entry["file"])
    if changed:
        write_manifest(models, manifest)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        changed = add_priors(args.models, args.data, args.force)
    except (DataError, ManifestError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"class priors recorded for {len(changed)} model(s)" + (f": {', '.join(changed)}" if changed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
