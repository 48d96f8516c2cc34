"""Datasets: image folders, the embedded real datasets, feature files, imbalance and splits."""

from optuna_hamming.data.datasets import (
    DatasetError,
    FeatureSet,
    LabeledImages,
    load_animal_mnist,
    load_dataset,
    load_digits_images,
    load_features_npz,
    load_image_folder,
    load_lfw_subset,
    make_imbalanced,
)
from optuna_hamming.data.splits import Splits, stratified_splits

__all__ = [
    "DatasetError",
    "FeatureSet",
    "LabeledImages",
    "Splits",
    "load_animal_mnist",
    "load_dataset",
    "load_digits_images",
    "load_features_npz",
    "load_image_folder",
    "load_lfw_subset",
    "make_imbalanced",
    "stratified_splits",
]
