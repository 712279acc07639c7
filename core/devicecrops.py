"""Detector crops of the training faces: the one module that writes and reads their file.

``python -m benchmarks device-crops`` places every Training face on a canvas as the camera benchmark places faces,
detects it again and cuts the crop the device would make (the detector's calibrated framing, 48x48); a recipe with
``device_crops`` trains on these crops beside the dataset's own. A device crop frames a face as the detector does,
face by face (a smiling mouth widens the box, a tilted head shifts it), which box jitter drawn at random cannot.

The file (``.npz``) holds, row for row with the training images it was cut from:

- ``crops``: (N, 48, 48) uint8, zeros where the detector found no face,
- ``found``: (N,) bool,
- ``images_sha256``: the digest of those training images (:func:`images_digest`), so crops of other data are refused,
- ``record``: JSON text: the detector, its framing, placements per face, seed, the command that wrote it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes
from core.labels import INPUT_SIZE

DEVICE_CROPS_DIR = "device-crops"  # under the runs root: derived from the data, never committed


class DeviceCropsError(ValueError):
    """A device-crops file that is missing, unreadable or cut from other images."""


@dataclass(frozen=True)
class DeviceCrops:
    crops: np.ndarray  # (N, 48, 48) uint8
    found: np.ndarray  # (N,) bool
    images_sha256: str
    record: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.found)
        if self.crops.shape != (n, INPUT_SIZE, INPUT_SIZE) or self.crops.dtype != np.uint8:
            raise DeviceCropsError(f"device crops: crops {self.crops.shape} {self.crops.dtype}, expected "
                                   f"({n}, {INPUT_SIZE}, {INPUT_SIZE}) uint8 (one per found flag)")

    @property
    def found_share(self) -> float:
        return float(np.mean(self.found)) if len(self.found) else 0.0


def images_digest(x: np.ndarray) -> str:
    """sha256 of the images' shape and pixels (uint8 48x48 faces, any trailing channel axis dropped)."""
    faces = np.ascontiguousarray(np.asarray(x).reshape(len(x), INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    h = hashlib.sha256(str(faces.shape).encode())
    h.update(faces.tobytes())
    return h.hexdigest()


def device_crops_path(runs_root: Path, detector: str) -> Path:
    """Where the crops of ``detector`` (a detector setting such as ``blazeface`` or ``blazeface:refine=0``) live."""
    return Path(runs_root) / DEVICE_CROPS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', detector)}.npz"


def build_hint(detector: str, runs_root: Path) -> str:
    return (f"build it first: make device-crops DATA=<the training data> (python -m benchmarks device-crops --data ... "
            f"--detector {detector} --out {device_crops_path(runs_root, detector)})")


def write_device_crops(path: Path, crops: DeviceCrops) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, crops=crops.crops, found=crops.found.astype(bool),
                        images_sha256=np.array(crops.images_sha256), record=np.array(json.dumps(crops.record)))
    return atomic_write_bytes(path, buf.getvalue())


def read_device_crops(path: Path, images: np.ndarray | None = None) -> DeviceCrops:
    """The crops in ``path``; with ``images``, checked to have been cut from exactly those images (else
    DeviceCropsError naming the file and what differs)."""
    path = Path(path)
    if not path.is_file():
        raise DeviceCropsError(f"{path}: no device-crops file")
    try:
        with np.load(path) as z:
            crops = DeviceCrops(z["crops"], z["found"].astype(bool), str(z["images_sha256"]),
                                json.loads(str(z["record"])))
    except DeviceCropsError as exc:
        raise DeviceCropsError(f"{path}: {exc}") from None
    except (OSError, KeyError, ValueError) as exc:
        raise DeviceCropsError(f"{path}: not a device-crops file ({type(exc).__name__}: {exc}); expected an .npz "
                               "with crops, found, images_sha256 and record") from None
    if images is not None:
        if len(images) != len(crops.found):
            raise DeviceCropsError(f"{path}: crops of {len(crops.found)} faces, but the training split has "
                                   f"{len(images)}: cut from other data")
        digest = images_digest(images)
        if digest != crops.images_sha256:
            raise DeviceCropsError(f"{path}: cut from other training images (sha256 {crops.images_sha256[:12]}..., "
                                   f"these {digest[:12]}...)")
    return crops


def crops_for_training(runs_root: Path, detector: str, images: np.ndarray, recipe: str) -> tuple[Path, DeviceCrops]:
    """The crops of ``detector`` under ``runs_root`` that recipe ``recipe`` trains on, checked against its training
    ``images``: DeviceCropsError naming the recipe, the file and the command that builds it."""
    path = device_crops_path(runs_root, detector)
    try:
        return path, read_device_crops(path, images)
    except DeviceCropsError as exc:
        raise DeviceCropsError(f"recipe {recipe!r}: {exc}; {build_hint(detector, runs_root)}") from None
