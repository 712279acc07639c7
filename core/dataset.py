"""Load FER2013 from the original CSV (optionally gzipped) or the Kaggle image-folder layout.

TF-free: training, conversion and the benchmarks (on a Pi too) share this one loader.

Splits follow FER2013's own ``Usage`` column: ``Training`` -> train, ``PublicTest`` -> val,
``PrivateTest`` -> test. Decoded arrays are cached (``.npz``) keyed by the source's path, size and
modification time, so the second load of the 35,887-row CSV takes well under a second.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes
from core.labels import EMOTIONS, INPUT_SIZE, NUM_CLASSES, PIXELS_PER_FACE
from core.packed import PackedError, is_packed, read_packed

SPLITS: tuple[str, ...] = ("train", "val", "test")
USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FILE_PREFIX_TO_SPLIT: dict[str, str] = {"PublicTest_": "val", "PrivateTest_": "test"}
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".pgm")
CACHE_VERSION = 1
WHERE_TO_GET = (
    "FER2013 is published on Kaggle ('Challenges in Representation Learning: Facial Expression "
    "Recognition Challenge', file fer2013.csv, or the image-folder edition 'msambare/fer2013'); "
    "pass its path with --data (Makefile: DATA=...)."
)


class DataError(ValueError):
    """Raised for any problem with the input data; the message names the file and row or path."""


@dataclass(frozen=True)
class Split:
    """Images (N, 48, 48, 1) uint8 0..255 and labels (N,) int64 in FER2013 order."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=NUM_CLASSES)


@dataclass
class Dataset:
    source: str
    splits: dict[str, Split]
    notes: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.splits and len(self.splits[name]) > 0

    def summary(self) -> dict[str, dict[str, int]]:
        return {
            name: {"rows": len(s), **{e: int(c) for e, c in zip(EMOTIONS, s.class_counts())}}
            for name, s in self.splits.items()
        }


def evaluation_split(*split_sets) -> str:
    """The split figures are reported on: ``test`` (FER2013's PrivateTest) when every one of ``split_sets`` (split
    names, or dicts keyed by them) has it, else ``val`` (PublicTest, which also selected the checkpoints)."""
    return "test" if split_sets and all("test" in s for s in split_sets) else "val"


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig: a file saved by a spreadsheet program starts with a byte-order mark, which is not part of the header
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _clip(text: str, limit: int = 80) -> str:
    """``text`` shortened for an error message (a pixels field is 8,000 characters)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _parse_pixels(text: str, where: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.fromstring(text, dtype=np.int64, sep=" ")  # fast C parser
    except ValueError:  # a token that is not a number: find it below
        values = np.empty(0, dtype=np.int64)
    if values.size != PIXELS_PER_FACE:
        tokens = text.split()
        for i, tok in enumerate(tokens):
            if not tok.isdigit():
                raise DataError(f"{where}: pixel {i} is {tok!r}, expected an integer 0..255")
        raise DataError(f"{where}: {len(tokens)} pixel values, expected {PIXELS_PER_FACE} (48x48)")
    if values.min() < 0 or values.max() > 255:
        bad = int(np.flatnonzero((values < 0) | (values > 255))[0])
        raise DataError(f"{where}: pixel {bad} is {values[bad]}, expected an integer 0..255")
    return values.astype(np.uint8)


def load_csv(path: Path) -> Dataset:
    """Parse FER2013's CSV (``emotion,pixels,Usage``); every error names the file and row."""
    xs: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    ys: dict[str, list[int]] = {s: [] for s in SPLITS}
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: file is empty, expected a header 'emotion,pixels,Usage'")
            cols = [h.strip() for h in header]
            missing = [c for c in ("emotion", "pixels") if c not in cols]
            if missing:
                shown_header = _clip(",".join(cols))
                raise DataError(
                    f"{path}, row 1: the header is {shown_header!r}, which lacks {missing}; expected a first line "
                    "'emotion,pixels,Usage' (FER2013's CSV has a header row)"
                )
            i_e, i_p = cols.index("emotion"), cols.index("pixels")
            i_u = cols.index("Usage") if "Usage" in cols else None
            for row_no, row in enumerate(reader, start=2):
                where = f"{path}, row {row_no}"
                if not row:
                    continue
                if len(row) < len(cols):
                    raise DataError(f"{where}: {len(row)} columns, expected {len(cols)} ({','.join(cols)})")
                label_text = row[i_e].strip()
                if not label_text.lstrip("-").isdigit() or not 0 <= int(label_text) < NUM_CLASSES:
                    raise DataError(f"{where}: emotion {_clip(label_text)!r} is not a label 0..6")
                usage = row[i_u].strip() if i_u is not None else "Training"
                split = USAGE_TO_SPLIT.get(usage)
                if split is None:
                    raise DataError(f"{where}: Usage {_clip(usage)!r}, expected one of {list(USAGE_TO_SPLIT)}")
                xs[split].append(_parse_pixels(row[i_p], where))
                ys[split].append(int(label_text))
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit: not a FER2013 row
        raise DataError(f"{path}, row {reader.line_num}: not a CSV row of FER2013 ({exc})") from None
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    splits = {
        s: Split(
            np.stack(xs[s]).reshape(-1, INPUT_SIZE, INPUT_SIZE, 1),
            np.asarray(ys[s], dtype=np.int64),
        )
        for s in SPLITS
        if ys[s]
    }
    return Dataset(str(path), splits)


# Decodes one image file to a (48, 48) uint8 gray face, or None when it cannot. core/ needs numpy alone, so the
# codec comes from the caller: device.datasets passes OpenCV's (device.preprocess.read_face_image).
ImageReader = Callable[[Path], "np.ndarray | None"]


def _read_image(path: Path, read_image: ImageReader) -> np.ndarray:
    img = read_image(path)
    if img is None:
        raise DataError(f"{path}: unreadable image (could not be decoded)")
    if img.shape != (INPUT_SIZE, INPUT_SIZE):
        raise DataError(f"{path}: decoded to {img.shape}, expected a {INPUT_SIZE}x{INPUT_SIZE} gray face")
    return img


def load_folder(root: Path, read_image: ImageReader, val_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """Kaggle layout: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, each decoded by ``read_image``.

    File prefixes ``PublicTest_``/``PrivateTest_`` (where present) give the split; otherwise a stratified,
    seeded validation split is carved from ``train`` and ``test`` is the test split.
    """
    notes: list[str] = []
    items: dict[str, list[tuple[Path, int]]] = {s: [] for s in SPLITS}
    for top in ("train", "test"):
        top_dir = root / top
        if not top_dir.is_dir():
            if top == "train":
                raise DataError(f"{root}: no 'train/' folder; expected train/<class>/*.jpg. {WHERE_TO_GET}")
            continue
        for sub in sorted(p for p in top_dir.iterdir() if p.is_dir()):
            if sub.name.lower() not in EMOTIONS:
                raise DataError(f"{sub}: unknown class folder, expected one of {list(EMOTIONS)}")
            label = EMOTIONS.index(sub.name.lower())
            for f in sorted(sub.iterdir()):
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                split = "train" if top == "train" else "test"
                for prefix, named in FILE_PREFIX_TO_SPLIT.items():
                    if f.name.startswith(prefix):
                        split = named
                items[split].append((f, label))
    if not items["train"]:
        raise DataError(f"{root / 'train'}: empty split, no images found under train/<class>/")
    splits: dict[str, Split] = {}
    for name, entries in items.items():
        if entries:
            x = np.stack([_read_image(p, read_image) for p, _ in entries]).reshape(-1, INPUT_SIZE, INPUT_SIZE, 1)
            splits[name] = Split(x, np.asarray([lab for _, lab in entries], dtype=np.int64))
    if "val" not in splits:
        from sklearn.model_selection import train_test_split

        tr = splits["train"]
        counts = tr.class_counts()
        single = [f"{EMOTIONS[k]} ({int(c)})" for k, c in enumerate(counts) if c == 1]
        if single:
            raise DataError(
                f"{root / 'train'}: {', '.join(single)} image only; a stratified validation split needs at least 2 "
                "images of each class present (add images, remove the class folder, or name validation files "
                "PublicTest_*)"
            )
        n_val = max(int(np.ceil(val_fraction * len(tr))), len(np.unique(tr.y)))
        idx_tr, idx_val = train_test_split(np.arange(len(tr)), test_size=n_val, random_state=seed, stratify=tr.y)
        splits["train"] = Split(tr.x[idx_tr], tr.y[idx_tr])
        splits["val"] = Split(tr.x[idx_val], tr.y[idx_val])
        notes.append(f"no PublicTest_ files: validation is a stratified {val_fraction:.0%} of train (seed {seed})")
    return Dataset(str(root), splits, notes)


def _cache_key(path: Path) -> str:
    st = path.stat()
    raw = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def default_cache_dir() -> Path:
    return Path(os.environ.get("FEREDGE_CACHE", Path.home() / ".cache" / "feredge"))


def load_fer2013(path: str | Path, cache_dir: Path | None = None, seed: int = 0, require_train: bool = True,
                 read_image: ImageReader | None = None, require_val: bool = True) -> Dataset:
    """Load FER2013 from a CSV(.gz) file, an image folder or a packed folder (:mod:`core.packed`), using a
    decoded-array cache for files.

    ``require_train=False`` (evaluation only) accepts a file without Training/PublicTest rows;
    ``require_val=False`` (the Training split alone: class priors, calibration) one without PublicTest rows. An
    image folder needs
    ``read_image`` (an image codec; :func:`device.datasets.load_fer2013` passes OpenCV's).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder. {WHERE_TO_GET}")
    if is_packed(path):
        try:
            source, arrays = read_packed(path)
        except PackedError as exc:
            raise DataError(str(exc)) from exc
        ds = Dataset(f"{path} (packed from {source})",
                     {name: Split(x, y.astype(np.int64)) for name, (x, y) in arrays.items()})
    elif path.is_dir():
        if read_image is None:
            raise DataError(f"{path}: an image folder needs an image decoder (device.datasets.load_fer2013 "
                            "passes OpenCV's); the CSV needs none")
        ds = load_folder(path, read_image, seed=seed)
    else:
        cache = (cache_dir or default_cache_dir()) / f"fer2013-{_cache_key(path)}.npz"
        ds = None
        if cache.exists():
            try:
                with np.load(cache) as z:
                    splits = {s: Split(z[f"{s}_x"], z[f"{s}_y"]) for s in SPLITS if f"{s}_y" in z}
                ds = Dataset(str(path), splits)
            except (OSError, ValueError, KeyError):
                ds = None  # a damaged cache is rebuilt
        if ds is None:
            ds = load_csv(path)
            _write_cache(cache, ds)
    if not require_train:
        if not (ds.has("val") or ds.has("test")):
            raise DataError(f"{path}: no PublicTest or PrivateTest rows to evaluate on")
        return ds
    if not ds.has("train"):
        raise DataError(f"{path}: empty split 'train' (no Training rows)")
    if require_val and not ds.has("val"):
        raise DataError(f"{path}: empty split 'val' (no PublicTest rows); checkpoint selection needs it")
    if not ds.has("test"):
        ds.notes.append("no PrivateTest rows: test metrics are skipped, validation (PublicTest) is reported")
    return ds


def _write_cache(cache: Path, ds: Dataset) -> None:
    arrays = {}
    for s, sp in ds.splits.items():
        arrays[f"{s}_x"], arrays[f"{s}_y"] = sp.x, sp.y
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    try:
        atomic_write_bytes(cache, buf.getvalue())
    except OSError:
        pass  # the cache is an optimisation only
