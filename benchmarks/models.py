"""Which models to measure: ``<variant>_<format>.tflite`` files of a models folder, iterated in the order of
``core.formats.FORMATS`` (the one table of formats), with their ``manifest.json`` entries where present."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.errors import BenchError
from core.formats import FORMATS, FORMATS_BY_NAME, model_path
from core.manifest import DEFAULT_MODEL_FILE, ManifestError
from core.manifest import read_manifest as _read_manifest
from device.classifier import ModelError, mirrors_in_graph

MANIFEST = "manifest.json"
KNOWN_VARIANTS: tuple[str, ...] = ("unweighted", "weighted")
# The pipeline is measured with the variant the demo ships by default.
PREFERRED_PIPELINE_VARIANT = Path(DEFAULT_MODEL_FILE).stem.rsplit("_", 1)[0]


@dataclass(frozen=True)
class ModelFile:
    variant: str
    fmt: str
    path: Path
    size_bytes: int
    manifest: dict = field(default_factory=dict, compare=False, hash=False)
    # the model averages each face and its mirror image itself (``convert --mirror``): its manifest entry says so for
    # this very file (same sha256), as the device runtime checks it (device.classifier.mirrors_in_graph)
    mirror_in_graph: bool = False

    @property
    def name(self) -> str:
        return f"{self.variant}/{self.fmt}"


@dataclass
class ModelSet:
    models_dir: Path
    models: list[ModelFile]
    missing: list[str]  # "variant/format" expected (variant seen, format in the table) but absent
    manifest: dict

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(m.variant for m in self.models))

    def get(self, variant: str, fmt: str) -> ModelFile | None:
        return next((m for m in self.models if m.variant == variant and m.fmt == fmt), None)

    def checkpoint(self, variant: str) -> str | None:
        """The Keras checkpoint the manifest records for ``variant`` (the float reference), if any."""
        for entry in self.manifest.get("models", []):
            if isinstance(entry, dict) and entry.get("variant") == variant and entry.get("checkpoint"):
                return str(entry["checkpoint"])
        return None

    def mirror_in_graph(self, variant: str) -> bool:
        """Whether ``variant``'s models average each face and its mirror image in their graph (then its Keras
        reference does the same)."""
        return any(m.mirror_in_graph for m in self.models if m.variant == variant)

    def pipeline_choice(self, formats: list[str]) -> list[ModelFile]:
        """One model per format: the ``weighted`` variant when present, else the first variant."""
        variant = PREFERRED_PIPELINE_VARIANT if PREFERRED_PIPELINE_VARIANT in self.variants else self.variants[0]
        chosen = [m for f in formats if (m := self.get(variant, f)) is not None]
        return chosen or [m for m in self.models if m.fmt in formats][:1] or self.models[:1]


def read_manifest(models_dir: Path) -> dict:
    """The folder's manifest (core.manifest; none is empty); a broken one is a BenchError naming the file."""
    try:
        return _read_manifest(models_dir)
    except ManifestError as exc:
        raise BenchError(str(exc)) from None


def _variant_order(name: str) -> tuple[int, str]:
    return (KNOWN_VARIANTS.index(name) if name in KNOWN_VARIANTS else len(KNOWN_VARIANTS), name)


def model_files(models_dir: Path) -> dict[tuple[str, str], Path]:
    """{(variant, format): path} of every ``<variant>_<format>.tflite`` in ``models_dir``, nothing read."""
    return {(path.name[: -len(f.suffix)], f.name): path
            for f in FORMATS for path in Path(models_dir).glob(f"*{f.suffix}")}


def find_models(models_dir: Path, variants: list[str] | None = None, formats: list[str] | None = None) -> ModelSet:
    """Models present in ``models_dir`` for the given variants (None: every variant found) and formats."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise BenchError(f"models folder {models_dir}: not found (run `make convert`, or pass --models DIR)")
    formats = list(formats or [f.name for f in FORMATS])
    unknown = [f for f in formats if f not in FORMATS_BY_NAME]
    if unknown:
        raise BenchError(f"formats {unknown}: unknown, expected some of {', '.join(FORMATS_BY_NAME)}")
    found_variants = {variant for variant, _ in model_files(models_dir)}
    wanted = list(variants) if variants else sorted(found_variants, key=_variant_order)
    manifest = read_manifest(models_dir)
    by_file = {str(e.get("file")): e for e in manifest.get("models", []) if isinstance(e, dict)}
    models: list[ModelFile] = []
    missing: list[str] = []
    for variant in wanted:
        for fmt in formats:
            path = model_path(models_dir, variant, fmt)
            if path.is_file():
                try:
                    mirrored = mirrors_in_graph(path)
                except ModelError as exc:
                    raise BenchError(str(exc)) from exc
                models.append(ModelFile(variant, fmt, path, path.stat().st_size, by_file.get(path.name, {}), mirrored))
            else:
                missing.append(f"{variant}/{fmt}")
    if not models:
        names = ", ".join(FORMATS_BY_NAME[f].filename(v) for v in (wanted or ["<variant>"]) for f in formats[:2])
        raise BenchError(
            f"models folder {models_dir}: no models found (expected files like {names}, ...; run `make convert`)"
        )
    return ModelSet(models_dir, models, missing, manifest)

