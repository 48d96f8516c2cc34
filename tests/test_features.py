"""The feature cache: extract once, read afterwards without building the backbone, rebuild a
corrupted entry, and key every entry by what built it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from keras import ops

from optuna_hamming.data import load_lfw_subset
from optuna_hamming.vision.backbones import build_backbone
from optuna_hamming.vision.features import features_for, features_from, resize_images

pytestmark = pytest.mark.keras


def test_second_run_reads_the_cache_and_corruption_is_repaired(tmp_path: Path) -> None:
    images = load_lfw_subset()
    options = dict(weights=None, image_size=32, cache_dir=tmp_path)
    first, report = features_for(images, **options)  # type: ignore[arg-type]
    assert not report.cached and first.X.shape == (200, 1280)
    assert report.backbone is not None and report.path.parent == tmp_path / "features"
    # The rows are the backbone's inference outputs, in order, the short last batch included.
    model = report.backbone.model
    for rows in (slice(0, 64), slice(192, 200)):
        expected = model(resize_images(images.images[rows], (32, 32)), training=False)
        np.testing.assert_allclose(
            first.X[rows], ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-5
        )
    second, report2 = features_for(images, **options)  # type: ignore[arg-type]
    assert report2.cached and report2.backbone is None  # read without building the backbone
    np.testing.assert_array_equal(first.X, second.X)
    raw = bytearray(report.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    report.path.write_bytes(bytes(raw))
    third, report3 = features_for(images, **options)  # type: ignore[arg-type]
    assert not report3.cached and report3.backbone is not None
    assert third.X.shape == first.X.shape


def test_the_key_follows_what_is_built(tmp_path: Path) -> None:
    """Another image size (or other weights) is another entry; a backbone already built
    reaches the entry that the same request through features_for made."""
    images = load_lfw_subset().subset(np.arange(0, 200, 10))
    _, at_32 = features_for(images, weights=None, image_size=32, cache_dir=tmp_path)
    _, at_40 = features_for(images, weights=None, image_size=40, cache_dir=tmp_path)
    assert not at_40.cached and at_40.path != at_32.path
    held = build_backbone(weights=None, image_size=32)
    again, report = features_from(images, held, cache_dir=tmp_path)
    assert report.cached and report.path == at_32.path and again.X.shape == (20, 1280)
