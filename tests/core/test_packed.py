"""The packed dataset (core.packed): what goes in comes out, and a missing or damaged part is named first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_images

from core.dataset import DataError, load_fer2013
from core.packed import PACKED_FILE, PackedError, read_packed, write_packed


def _splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    (xt, yt), (xv, yv) = synthetic_images(5, 0), synthetic_images(2, 1)
    return {"train": (xt.reshape(-1, 48, 48, 1), yt), "val": (xv.reshape(-1, 48, 48, 1), yv)}


@pytest.mark.parametrize("parts", [1, 3])
def test_round_trip_in_any_number_of_parts(tmp_path: Path, parts: int) -> None:
    splits = _splits()
    write_packed(splits, tmp_path / "p", parts, source="fer.csv")
    assert len(list((tmp_path / "p").glob("part-*.npz"))) == parts
    source, back = read_packed(tmp_path / "p")
    assert source == "fer.csv"
    for name, (x, y) in splits.items():
        np.testing.assert_array_equal(back[name][0], x)
        np.testing.assert_array_equal(back[name][1], y)


def test_load_fer2013_reads_a_packed_folder(tmp_path: Path) -> None:
    write_packed(_splits(), tmp_path / "p", 2, source="fer.csv")
    ds = load_fer2013(tmp_path / "p")
    assert len(ds.splits["train"]) == 35 and len(ds.splits["val"]) == 14
    assert ds.splits["train"].y.dtype == np.int64 and "packed from fer.csv" in ds.source


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    write_packed(_splits(), tmp_path / "p", 2, source="fer.csv")
    (tmp_path / "p" / "part-2-of-2.npz").unlink()
    with pytest.raises(DataError, match=r"part-2-of-2\.npz: missing \(2 files are listed in .*packed\.json"):
        load_fer2013(tmp_path / "p")


def test_a_damaged_part_is_named_before_decoding(tmp_path: Path) -> None:
    write_packed(_splits(), tmp_path / "p", 2, source="fer.csv")
    part = tmp_path / "p" / "part-1-of-2.npz"
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(PackedError, match=r"part-1-of-2\.npz: sha256 differs"):
        read_packed(tmp_path / "p")


def test_a_foreign_description_is_refused(tmp_path: Path) -> None:
    write_packed(_splits(), tmp_path / "p", 1, source="fer.csv")
    meta = tmp_path / "p" / PACKED_FILE
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": "other"}))
    with pytest.raises(PackedError, match="format 'other'"):
        read_packed(tmp_path / "p")
