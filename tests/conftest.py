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


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is not there."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs {p} (../shared is not on this machine)")
    return p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A test that reaches an optional extra that is not installed (mediapipe, for the 'full'
    detector) skips with the library's own message instead of failing."""
    from faceanalytics.core.errors import MissingDependencyError

    outcome = yield
    if outcome.excinfo is not None and issubclass(outcome.excinfo[0], MissingDependencyError):
        outcome.force_exception(pytest.skip.Exception(f"optional extra missing: {outcome.excinfo[1]}", _use_item_location=True))


@pytest.fixture(scope="session")
def detector_home() -> Path:
    """The folder of the BlazeFace weights: they ship inside the package."""
    from faceanalytics.runtime.hub import package_weights_dir

    return package_weights_dir()


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """Point FACEANALYTICS_HOME at an empty folder unless the caller chose one (CI points it at
    ../shared/models), so that no test ever downloads or writes into the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEANALYTICS_HOME", os.environ.get("FACEANALYTICS_HOME") or str(tmp_path_factory.mktemp("empty_home")))
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
