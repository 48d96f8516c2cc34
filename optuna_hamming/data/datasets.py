"""Labelled images and feature sets behind one small interface.

Sources: a folder with one sub-folder per class, the real datasets that ship in wheels
(animal-mnist, scikit-image's ``lfw_subset``, scikit-learn's digits), a features file
(``.npz`` with ``X`` and ``y``), and an imbalanced subsample of any of them.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
# PIL's default Image.MAX_IMAGE_PIXELS: above it PIL warns, above twice it PIL raises.
MAX_IMAGE_PIXELS = 89_478_485

ANIMAL_MNIST_CLASSES = (
    "bear",
    "bird",
    "cat",
    "cow",
    "dog",
    "elephant",
    "giraffe",
    "horse",
    "sheep",
    "zebra",
)

# Class sizes of the paper's Network Camera 10K data (Table II), largest first. Imbalanced
# variants keep the largest class whole and shrink the others to these proportions.
PAPER_CLASS_PROPORTIONS = (3724, 978, 855, 719, 603, 499, 495, 432, 431, 243, 161, 149, 139, 99)


class DatasetError(ValueError):
    """A dataset cannot be used as given; the message says what to change."""


@dataclass(frozen=True)
class LabeledImages:
    """RGB ``uint8`` images of one size ``(n, height, width, 3)`` with integer labels."""

    images: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.int64]
    class_names: tuple[str, ...]
    name: str
    skipped: int = 0  # unreadable files left out when loading a folder
    too_large: int = 0  # images over MAX_IMAGE_PIXELS, refused before decoding
    _digest: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise DatasetError(f"images must have shape (n, h, w, 3), got {self.images.shape}")
        _check_labels(
            len(self.images), "images", "labels", self.labels, self.class_names, self.name
        )

    def digest(self) -> str:
        """SHA-256 of the pixels and labels: the images' part of a feature-cache key."""
        if not self._digest:
            h = hashlib.sha256()
            h.update(str(self.images.shape).encode())
            h.update(np.ascontiguousarray(self.images).tobytes())
            h.update(np.ascontiguousarray(self.labels).tobytes())
            self._digest.append(h.hexdigest())
        return self._digest[0]

    def subset(self, indices: npt.ArrayLike, name: str | None = None) -> LabeledImages:
        idx = np.asarray(indices)
        return LabeledImages(
            self.images[idx], self.labels[idx], self.class_names, name or self.name
        )


@dataclass(frozen=True)
class FeatureSet:
    """Ready features ``X`` (n, d) with labels ``y``.

    ``X`` holds the images themselves; ``augmented`` (views - 1, n, d), when given, the
    features of their other views, named in ``views`` (the first is always the image
    itself). A head trains on every view's rows (:meth:`rows`) and scores an image by the
    mean of its views' outputs, so a row of a view belongs to its image wherever it goes.
    """

    X: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    class_names: tuple[str, ...]
    name: str
    augmented: npt.NDArray[np.float32] | None = None
    views: tuple[str, ...] = ("identity",)

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise DatasetError(f"features must be a 2-D array (n, d), got shape {self.X.shape}")
        _check_labels(len(self.X), "X", "y", self.y, self.class_names, self.name)
        if not np.isfinite(self.X).all():
            bad = int((~np.isfinite(self.X)).any(axis=1).sum())
            raise DatasetError(
                f"{bad} feature rows contain NaN or infinite values: drop or impute them first"
            )
        extra = 0 if self.augmented is None else len(self.augmented)
        if len(self.views) != 1 + extra:
            raise DatasetError(
                f"{len(self.views)} views named ({', '.join(self.views)}) for {1 + extra} "
                "feature arrays: name one view per array, the image itself first"
            )
        if self.augmented is not None and self.augmented.shape[1:] != self.X.shape:
            raise DatasetError(
                f"the views' features have shape {self.augmented.shape[1:]} per view, the "
                f"images' {self.X.shape}: extract every view from the same images"
            )

    @property
    def n_views(self) -> int:
        return len(self.views)

    def view_stack(self) -> npt.NDArray[np.float32]:
        """Every view's features, (views, n, d), the image itself first."""
        if self.augmented is None:
            return self.X[None]
        stacked: npt.NDArray[np.float32] = np.concatenate([self.X[None], self.augmented])
        return stacked

    def rows(self, indices: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The rows of images ``indices`` in every view, view-major (all of view 0's, then
        all of view 1's): what a head trains and predicts on. Only those rows are copied."""
        idx = np.asarray(indices)
        if self.augmented is None:
            plain: npt.NDArray[np.float32] = self.X[idx]
            return plain
        return np.concatenate([self.X[idx], *(view[idx] for view in self.augmented)])

    def row_labels(self, indices: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The labels of :meth:`rows` (each image's label once per view)."""
        return np.tile(self.y[np.asarray(indices)], self.n_views)

    def only_views(self, views: tuple[str, ...]) -> FeatureSet:
        """These features with the views ``views`` alone (a subset of :attr:`views`, the
        image itself first)."""
        missing = [v for v in views if v not in self.views]
        if missing or not views or views[0] != self.views[0]:
            raise DatasetError(
                f"views {views} are not a subset of {self.views} starting with {self.views[0]}"
            )
        kept = (
            []
            if self.augmented is None
            else [self.augmented[self.views.index(v) - 1] for v in views[1:]]
        )
        augmented = np.stack(kept) if kept else None
        return FeatureSet(self.X, self.y, self.class_names, self.name, augmented, views)

    def select(self, indices: npt.ArrayLike) -> FeatureSet:
        """The images ``indices`` with all their views."""
        idx = np.asarray(indices)
        augmented = None if self.augmented is None else self.augmented[:, idx]
        return FeatureSet(
            self.X[idx], self.y[idx], self.class_names, self.name, augmented, self.views
        )


def _check_labels(
    n_rows: int,
    rows: str,
    labels_name: str,
    labels: npt.NDArray[np.int64],
    class_names: tuple[str, ...],
    name: str,
) -> None:
    """One label per row, labels within the class names, 2+ classes of 2+ examples each."""
    if n_rows != len(labels):
        raise DatasetError(
            f"{rows} has {n_rows} rows but {labels_name} has {len(labels)} labels: "
            "give one label per row"
        )
    if len(labels) == 0:
        raise DatasetError(f"dataset {name!r} is empty: it needs images of at least 2 classes")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise DatasetError(
            f"labels of {name!r} run from {labels.min()} to {labels.max()} but there are "
            f"{len(class_names)} class names"
        )
    counts = np.bincount(labels, minlength=len(class_names))
    present = counts > 0
    if present.sum() < 2:
        raise DatasetError(
            f"dataset {name!r} has a single class ({class_names[int(labels[0])]}): "
            "classification needs at least 2"
        )
    if (counts[present] < 2).any():
        lonely = class_names[int(np.flatnonzero(present & (counts < 2))[0])]
        raise DatasetError(
            f"class {lonely!r} of {name!r} has only 1 example: each class needs at least 2 "
            "(add images or remove the class)"
        )


def _to_rgb_uint8(gray: npt.NDArray[Any], scale: float) -> npt.NDArray[np.uint8]:
    values = np.clip(np.asarray(gray, dtype=np.float64) * scale, 0, 255).round().astype(np.uint8)
    return np.repeat(values[..., None], 3, axis=-1)


class _NumpyArrayUnpickler(pickle.Unpickler):
    """animal-mnist ships numpy arrays as gzip pickles: accept numpy arrays and nothing else."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays")
        real = importlib.import_module(module.replace("numpy.core.", "numpy._core."))
        return getattr(real, name)


def _read_array_pickle(path: Path) -> npt.NDArray[Any]:
    with gzip.open(path, "rb") as handle:
        array = _NumpyArrayUnpickler(handle).load()
    if not isinstance(array, np.ndarray):
        raise DatasetError(f"{path} does not hold a numpy array")
    return array


def load_animal_mnist() -> LabeledImages:
    """animal-mnist 0.4: 10,000 28x28 animal silhouettes, 10 balanced classes (offline)."""
    try:
        package = importlib.import_module("animal_mnist")
    except ImportError:
        raise DatasetError(
            "animal-mnist is not installed: `pip install --no-deps animal-mnist==0.4`"
        ) from None
    folder = Path(str(package.__file__)).parent / "data" / "Animal_MNIST"
    images = _read_array_pickle(folder / "animal_data_version_3.gz")
    labels = _read_array_pickle(folder / "animal_label_version_3.gz").astype(np.int64)
    return LabeledImages(_to_rgb_uint8(images, 1.0), labels, ANIMAL_MNIST_CLASSES, "animal-mnist")


def load_lfw_subset() -> LabeledImages:
    """scikit-image's ``lfw_subset``: 100 25x25 faces and 100 non-faces."""
    from skimage import data

    images = data.lfw_subset()
    labels = np.array([0] * 100 + [1] * 100, dtype=np.int64)
    return LabeledImages(_to_rgb_uint8(images, 255.0), labels, ("face", "non-face"), "lfw")


def load_digits_images() -> LabeledImages:
    """scikit-learn's 8x8 digits (1,797 images, 10 classes): a control where transfer does
    not help."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return LabeledImages(
        _to_rgb_uint8(digits.images, 255.0 / 16.0),
        digits.target.astype(np.int64),
        tuple(str(d) for d in range(10)),
        "digits",
    )


def load_image_folder(
    path: str | Path, *, image_size: tuple[int, int] = (224, 224)
) -> LabeledImages:
    """A folder with one sub-folder per class (``root/cat/1.jpg``...), resized to ``image_size``.

    Unreadable or non-image files are skipped and counted in ``skipped``, never fatal.
    Images of more than ``MAX_IMAGE_PIXELS`` pixels (PIL's own limit, about 89 megapixels)
    are refused before they are decoded, and counted in ``too_large``; any smaller image is
    read, however large.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist: pass a folder of class folders")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(
            f"{root} has no class sub-folders: put each class's images in root/<class>/"
        )
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    skipped = too_large = 0
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    image = Image.open(file)  # reads the header only
                with image:
                    width, height = image.size
                    if width * height > MAX_IMAGE_PIXELS:
                        too_large += 1  # a decompression bomb, or a scan nobody resizes
                        continue
                    rgb = image.convert("RGB").resize(image_size[::-1], Image.Resampling.BILINEAR)
                    images.append(np.asarray(rgb, dtype=np.uint8))
                    labels.append(label)
            except Image.DecompressionBombError:
                too_large += 1
            except (UnidentifiedImageError, OSError, ValueError):
                skipped += 1
    if not images:
        raise DatasetError(
            f"{root} has no readable images ({skipped} unreadable, {too_large} over "
            f"{MAX_IMAGE_PIXELS:,} pixels): add .jpg or .png files"
        )
    return LabeledImages(
        np.stack(images),
        np.array(labels, dtype=np.int64),
        tuple(classes),
        root.name,
        skipped,
        too_large,
    )


def load_features_npz(path: str | Path) -> FeatureSet:
    """Features from an ``.npz`` with ``X`` (n, d) and ``y`` (n,), optionally ``class_names``.

    Loaded with ``allow_pickle=False``: a file holding Python objects is refused.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"features file {file} does not exist")
    try:
        with np.load(file, allow_pickle=False) as data:
            if "X" not in data or "y" not in data:
                raise DatasetError(
                    f"{file} must contain arrays 'X' (n, d) and 'y' (n,): "
                    "save it with np.savez(path, X=X, y=y)"
                )
            X = np.asarray(data["X"], dtype=np.float32)
            raw_y = data["y"]
            names = tuple(str(n) for n in data["class_names"]) if "class_names" in data else None
    except ValueError as error:
        raise DatasetError(f"{file} is not a plain numpy archive ({error})") from None
    values, y = np.unique(raw_y, return_inverse=True)
    class_names = (
        names if names is not None and len(names) == len(values) else tuple(str(v) for v in values)
    )
    return FeatureSet(X, y.astype(np.int64), class_names, file.stem)


def make_imbalanced(
    images: LabeledImages,
    *,
    proportions: tuple[int, ...] = PAPER_CLASS_PROPORTIONS,
    seed: int = 0,
    min_per_class: int = 10,
) -> LabeledImages:
    """A seeded subsample whose class sizes follow ``proportions`` (largest class kept whole).

    Classes are ranked by their index; class ``k`` keeps ``proportions[k] / proportions[0]``
    of the largest class's count, at least ``min_per_class``.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(images.labels)
    n_classes = len(counts)
    if len(proportions) < n_classes:
        raise DatasetError(
            f"{len(proportions)} proportions for {n_classes} classes: give one per class"
        )
    largest = int(counts.max())
    keep: list[npt.NDArray[np.int64]] = []
    for label in range(n_classes):
        members = np.flatnonzero(images.labels == label)
        target = max(min_per_class, round(largest * proportions[label] / proportions[0]))
        chosen = rng.choice(members, size=min(target, len(members)), replace=False)
        keep.append(np.sort(chosen))
    return images.subset(np.concatenate(keep), name=f"{images.name}-imbalanced")


def load_dataset(name: str, *, imbalanced: bool = False, seed: int = 0) -> LabeledImages:
    """By name: ``animal-mnist``, ``lfw``, ``digits`` or a path to an image folder."""
    loaders = {
        "animal-mnist": load_animal_mnist,
        "lfw": load_lfw_subset,
        "digits": load_digits_images,
    }
    if name in loaders:
        images = loaders[name]()
    elif Path(name).is_dir():
        images = load_image_folder(name)
    else:
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {', '.join(loaders)} or a folder of class "
            "folders"
        )
    return make_imbalanced(images, seed=seed) if imbalanced else images
