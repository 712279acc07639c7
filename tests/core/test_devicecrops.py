"""The device-crops file (``core.devicecrops``): written and read back row for row, and refused with a message that
names the file when it is missing, damaged or cut from other training images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.devicecrops import (
    DeviceCrops,
    DeviceCropsError,
    device_crops_path,
    images_digest,
    read_device_crops,
    write_device_crops,
)


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)


def test_written_crops_read_back_row_for_row(tmp_path: Path) -> None:
    x = _faces(5)
    crops = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    found = np.array([True, False, True, True, False])
    crops[~found] = 0
    path = write_device_crops(tmp_path / "d" / "blazeface.npz",
                              DeviceCrops(crops, found, images_digest(x), {"detector": "blazeface", "repeats": 2}))
    back = read_device_crops(path, x)
    np.testing.assert_array_equal(back.crops, crops)
    np.testing.assert_array_equal(back.found, found)
    assert back.record == {"detector": "blazeface", "repeats": 2} and back.found_share == pytest.approx(0.6)


def test_the_digest_is_of_the_pixels_whatever_the_channel_axis() -> None:
    x = _faces(3)
    assert images_digest(x) == images_digest(x.reshape(3, 48, 48))
    y = x.copy()
    y[2, 10, 10, 0] ^= 1
    assert images_digest(x) != images_digest(y)


def test_crops_of_other_images_are_refused_naming_the_file(tmp_path: Path) -> None:
    x = _faces(4)
    path = write_device_crops(tmp_path / "c.npz", DeviceCrops(np.zeros((4, 48, 48), np.uint8), np.zeros(4, bool),
                                                              images_digest(x)))
    with pytest.raises(DeviceCropsError, match=r"c\.npz: cut from other training images"):
        read_device_crops(path, _faces(4, seed=9))
    with pytest.raises(DeviceCropsError, match=r"c\.npz: crops of 4 faces, but the training split has 5"):
        read_device_crops(path, _faces(5))


def test_a_missing_damaged_or_misshapen_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceCropsError, match=r"absent\.npz: no device-crops file"):
        read_device_crops(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DeviceCropsError, match=r"junk\.npz: not a device-crops file"):
        read_device_crops(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", crops=np.zeros((2, 48, 48), np.uint8))
    with pytest.raises(DeviceCropsError, match=r"other\.npz: not a device-crops file .*found"):
        read_device_crops(tmp_path / "other.npz")
    with pytest.raises(DeviceCropsError, match=r"expected \(3, 48, 48\) uint8"):
        DeviceCrops(np.zeros((3, 32, 32), np.uint8), np.zeros(3, bool), "x")


def test_each_detector_setting_has_its_own_file_under_the_runs_root(tmp_path: Path) -> None:
    assert device_crops_path(tmp_path, "blazeface") == tmp_path / "device-crops" / "blazeface.npz"
    assert device_crops_path(tmp_path, "blazeface:refine=0").name == "blazeface-refine-0.npz"
