"""The HTML report: self-contained, and it renders in a real browser (headless Chromium)."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest

from faceanalytics.cli import EXIT_OK, main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(detector_home, fpenet68, tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("report")
    for i in range(15):  # an image sequence: the astronaut drifting right
        cv2.imwrite(
            str(folder / f"frame{i:03d}.png"), cv2.warpAffine(astronaut, np.float32([[1, 0, 2 * i], [0, 1, 0]]), (512, 512))
        )
    path = folder / "out" / "report.html"
    assert (
        main(["video", str(folder), "--report", str(path), "--landmark-model", str(fpenet68), "--detect-every", "1", "-q"])
        == EXIT_OK
    )
    return path


def test_report_is_self_contained(report):
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "data:image/jpeg;base64," in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    assert "<script" not in text
    assert "15 frames, 1 tracks" in text


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium; .ci/run installs it)")
def test_report_renders_in_chromium(report, tmp_path):
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=900,900",
        report.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    image = cv2.imread(str(shot))
    assert image is not None, "Chromium wrote no screenshot"
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert gray.std() > 10  # not a blank page
    dark = (gray < 100).mean()
    assert 0.005 < dark < 0.5  # text and plot lines, on a white page
