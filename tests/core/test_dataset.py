from __future__ import annotations

import gzip
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from needs import data_missing
from synthetic import synthetic_images, write_fer_csv

from core.dataset import DataError, load_fer2013
from device.preprocess import read_face_image

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _row(label: str = "3", pixels: str | None = None, usage: str = "Training") -> str:
    return f"{label},{pixels if pixels is not None else ' '.join(['7'] * 2304)},{usage}"


def _csv(tmp_path: Path, rows: list[str], name: str = "fer.csv") -> Path:
    base = [_row(str(k % 7)) for k in range(7)] + [_row(str(k % 7), usage="PublicTest") for k in range(7)]
    p = tmp_path / name
    p.write_text("emotion,pixels,Usage\n" + "\n".join(base + rows) + "\n")
    return p


def test_csv_splits_and_shapes(tmp_path, cache):
    path = write_fer_csv(tmp_path / "fer.csv.gz", {"train": 3, "val": 2, "test": 1})
    ds = load_fer2013(path, cache_dir=cache)
    assert {s: len(sp) for s, sp in ds.splits.items()} == {"train": 21, "val": 14, "test": 7}
    assert ds.splits["train"].x.shape == (21, 48, 48, 1) and ds.splits["train"].x.dtype == np.uint8
    assert ds.splits["val"].class_counts().tolist() == [2] * 7
    assert ds.notes == []


def test_csv_values_roundtrip_and_cache(tmp_path, cache):
    x, y = synthetic_images(1, seed=5)
    lines = ["emotion,pixels,Usage"] + [f"{lab},{' '.join(map(str, im.ravel()))},Training" for im, lab in zip(x, y)]
    lines += [f"{lab},{' '.join(map(str, im.ravel()))},PublicTest" for im, lab in zip(x, y)]
    path = tmp_path / "fer.csv"
    path.write_text("\n".join(lines) + "\n")
    first = load_fer2013(path, cache_dir=cache)
    assert list(cache.glob("*.npz")), "a decoded cache is written"
    second = load_fer2013(path, cache_dir=cache)
    for ds in (first, second):
        np.testing.assert_array_equal(ds.splits["train"].x[..., 0], x)
        np.testing.assert_array_equal(ds.splits["train"].y, y)


def test_missing_private_test_is_noted(tmp_path, cache):
    path = write_fer_csv(tmp_path / "fer.csv", {"train": 2, "val": 1})
    ds = load_fer2013(path, cache_dir=cache)
    assert not ds.has("test")
    assert any("PrivateTest" in n for n in ds.notes)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_row(pixels=" ".join(["1"] * 2000)), "2000 pixel values, expected 2304"),
        (_row(pixels=" ".join(["1"] * 100 + ["x"] + ["1"] * 2203)), "pixel 100 is 'x'"),
        (_row(pixels=" ".join(["1"] * 10 + ["300"] + ["1"] * 2293)), "pixel 10 is 300"),
        (_row(label="9"), "emotion '9' is not a label 0..6"),
        (_row(label="sad"), "emotion 'sad' is not a label"),
        (_row(usage="Holdout"), "Usage 'Holdout'"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, cache, row, message):
    path = _csv(tmp_path, [row])
    with pytest.raises(DataError) as err:
        load_fer2013(path, cache_dir=cache)
    assert str(path) in str(err.value) and "row 16" in str(err.value)
    assert message in str(err.value)


def test_missing_path_hints_where_to_get_data(tmp_path, cache):
    with pytest.raises(DataError, match="no such file.*Kaggle"):
        load_fer2013(tmp_path / "nope.csv", cache_dir=cache)


def test_empty_splits(tmp_path, cache):
    p = tmp_path / "only_train.csv"
    p.write_text("emotion,pixels,Usage\n" + _row() + "\n")
    with pytest.raises(DataError, match="empty split 'val'"):
        load_fer2013(p, cache_dir=cache)
    p2 = tmp_path / "header_only.csv"
    p2.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match="empty split 'train'"):
        load_fer2013(p2, cache_dir=cache)
    # the Training split alone (class priors, calibration): PublicTest not needed, Training still is
    assert len(load_fer2013(p, cache_dir=cache, require_val=False).splits["train"]) == 1
    with pytest.raises(DataError, match="empty split 'train'"):
        load_fer2013(p2, cache_dir=cache, require_val=False)


def test_corrupt_gzip_is_a_clear_error(tmp_path, cache):
    p = tmp_path / "broken.csv.gz"
    p.write_bytes(gzip.compress(b"emotion,pixels,Usage\n")[:10])
    with pytest.raises(DataError, match="broken.csv.gz: cannot read"):
        load_fer2013(p, cache_dir=cache)


def _write_folder(root: Path, prefixes: bool) -> None:
    x, y = synthetic_images(6, seed=1)
    names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    for i, (img, lab) in enumerate(zip(x, y)):
        top = "train" if i % 3 else "test"
        test_prefix = "PublicTest_" if i % 2 else "PrivateTest_"
        prefix = "" if not prefixes else ("Training_" if top == "train" else test_prefix)
        d = root / top / names[lab]
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"{prefix}{i:05d}.png"), img)


def test_folder_layout_with_prefixes(tmp_path, cache):
    _write_folder(tmp_path / "fer", prefixes=True)
    ds = load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image)
    assert set(ds.splits) == {"train", "val", "test"}
    assert sum(len(s) for s in ds.splits.values()) == 42


def test_folder_layout_without_prefixes_carves_stratified_val(tmp_path, cache):
    _write_folder(tmp_path / "fer", prefixes=False)
    a = load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image, seed=3)
    b = load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image, seed=3)
    assert len(a.splits["train"]) + len(a.splits["val"]) == 28
    np.testing.assert_array_equal(a.splits["val"].y, b.splits["val"].y)
    assert any("stratified" in n for n in a.notes)


def test_folder_unreadable_image(tmp_path, cache):
    _write_folder(tmp_path / "fer", prefixes=False)
    bad = tmp_path / "fer" / "train" / "happy" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image)


def test_folder_with_a_one_image_class_is_a_clear_error(tmp_path, cache):
    _write_folder(tmp_path / "fer", prefixes=False)
    for extra in sorted((tmp_path / "fer" / "train" / "disgust").iterdir())[1:]:
        extra.unlink()  # one disgust image left: no stratified validation split can hold it and train it
    with pytest.raises(DataError, match=r"train: disgust \(1\) image only; a stratified validation split"):
        load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image)


def test_csv_with_a_byte_order_mark_loads(tmp_path, cache):
    plain = write_fer_csv(tmp_path / "plain.csv", {"train": 2, "val": 1})
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())  # what a spreadsheet program saves as "CSV UTF-8"
    a, b = load_fer2013(plain, cache_dir=cache), load_fer2013(bom, cache_dir=cache)
    np.testing.assert_array_equal(a.splits["train"].x, b.splits["train"].x)
    np.testing.assert_array_equal(a.splits["val"].y, b.splits["val"].y)


def test_headerless_csv_error_is_short_and_names_the_row(tmp_path, cache):
    full = write_fer_csv(tmp_path / "full.csv", {"train": 1})
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("".join(full.read_text().splitlines(keepends=True)[1:]))
    with pytest.raises(DataError) as info:
        load_fer2013(headerless, cache_dir=cache)
    message = str(info.value)
    assert "headerless.csv, row 1" in message and "emotion,pixels,Usage" in message
    assert len(message) < 400, f"the error dumps the row: {len(message)} characters"


def test_line_over_the_csv_field_limit_names_the_row(tmp_path, cache):
    path = write_fer_csv(tmp_path / "long.csv", {"train": 1})
    with open(path, "a") as fh:
        fh.write("0,\"" + "1 " * 200_000 + "\",Training\n")  # one quoted field of 400,000 characters
    with pytest.raises(DataError, match=r"long.csv, row 9: not a CSV row of FER2013 \(field larger than"):
        load_fer2013(path, cache_dir=cache)


def test_real_fer2013_split_sizes(tmp_path):
    if not os.environ.get("FER2013"):
        data_missing("set FER2013=path/to/fer2013.csv(.gz) to check the real file")
    ds = load_fer2013(os.environ["FER2013"], cache_dir=tmp_path / "cache")  # parse the CSV, not an earlier cache
    assert list((tmp_path / "cache").glob("*.npz")), "the parse wrote its cache where it was told"
    assert len(ds.splits["train"]) == 28709
    assert len(ds.splits["val"]) == 3589
    assert ds.splits["train"].class_counts().tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    if ds.has("test"):
        assert len(ds.splits["test"]) == 3589


def test_a_folder_needs_an_image_decoder_from_above(tmp_path, cache):
    """core/ decodes no images itself (numpy alone): without a reader a folder is a clear error; the device layer's
    wrapper passes OpenCV's and reads the same faces."""
    from device.datasets import load_fer2013 as load_with_opencv

    _write_folder(tmp_path / "fer", prefixes=True)
    with pytest.raises(DataError, match="an image folder needs an image decoder"):
        load_fer2013(tmp_path / "fer", cache_dir=cache)
    direct = load_fer2013(tmp_path / "fer", cache_dir=cache, read_image=read_face_image)
    wrapped = load_with_opencv(tmp_path / "fer", cache_dir=cache)
    np.testing.assert_array_equal(direct.splits["train"].x, wrapped.splits["train"].x)
