"""Shared fixtures.

Tests that need ../shared (data, BlazeFace weights) skip with a reason when it is absent, so the
suite also passes on a machine without it. Nothing here downloads from the internet.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from fpenet_models import bright_spot_fpenet, random_fpenet

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEANALYTICS_SHARED", REPO.parent / "shared"))
SHORT_RANGE = "face_detection_short_range.tflite"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is not there."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs {p} (../shared is not on this machine)")
    return p


def _detector_home() -> Path | None:
    """A folder holding the BlazeFace weights: $FACEANALYTICS_HOME, else ../shared/models."""
    for cand in (os.environ.get("FACEANALYTICS_HOME"), str(SHARED / "models")):
        if cand and (Path(cand) / SHORT_RANGE).is_file():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def detector_home() -> Path:
    home = _detector_home()
    if home is None:
        pytest.skip("BlazeFace weights not found: set FACEANALYTICS_HOME=../shared/models (as .ci/run does)")
    return home


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """Point FACEANALYTICS_HOME at the detector weights if there are any, else at an empty folder,
    so that no test ever downloads or writes into the user's cache."""
    home = _detector_home()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEANALYTICS_HOME", str(home if home else tmp_path_factory.mktemp("empty_home")))
        yield


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def fpenet68(models_dir: Path) -> Path:
    return random_fpenet(models_dir / "random68.onnx", 68)


@pytest.fixture(scope="session")
def spot_model(models_dir: Path) -> Path:
    return bright_spot_fpenet(models_dir / "spot68.onnx", 68, beta=0.05)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, NASA, public domain) as HxWx3 uint8 BGR; one face."""
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="session")
def cat() -> np.ndarray:
    """scikit-image's Chelsea the cat as BGR: no human face."""
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="session")
def astronaut_file(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    cv2.imwrite(str(path), astronaut)
    return path
