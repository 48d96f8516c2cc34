"""The feature cache: extract once, read afterwards without building the backbone, and
rebuild a corrupted entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from keras import ops

from optuna_hamming.backbones import Backbone, build_backbone
from optuna_hamming.data import load_lfw_subset
from optuna_hamming.features import extract_features, resize_images

pytestmark = pytest.mark.keras


def test_second_run_reads_the_cache_and_corruption_is_repaired(tmp_path: Path) -> None:
    images = load_lfw_subset()
    built: list[Backbone] = []

    def factory() -> Backbone:
        backbone = build_backbone(weights=None, image_size=32)
        built.append(backbone)
        return backbone

    kwargs = dict(
        backbone_name="torchvision-mobilenet-v2",
        weights_id="none",
        image_size=32,
        cache_dir=tmp_path,
        progress=False,
    )
    first, report = extract_features(images, factory, **kwargs)  # type: ignore[arg-type]
    assert not report.cached and first.X.shape == (200, 1280) and len(built) == 1
    # The rows are the backbone's inference outputs, in order, the short last batch included.
    model = built[0].model
    for rows in (slice(0, 64), slice(192, 200)):
        expected = model(resize_images(images.images[rows], (32, 32)), training=False)
        np.testing.assert_allclose(
            first.X[rows], ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-5
        )
    second, report2 = extract_features(images, factory, **kwargs)  # type: ignore[arg-type]
    assert report2.cached and len(built) == 1
    np.testing.assert_array_equal(first.X, second.X)
    raw = bytearray(report.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    report.path.write_bytes(bytes(raw))
    third, report3 = extract_features(images, factory, **kwargs)  # type: ignore[arg-type]
    assert not report3.cached and len(built) == 2
    assert third.X.shape == first.X.shape
