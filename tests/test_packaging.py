"""Install-level promises: one OpenCV distribution; CI runs the README's test command."""

from __future__ import annotations

import re
from importlib.metadata import distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_exactly_one_opencv_distribution():
    all_names = {(d.metadata["Name"] or "").lower() for d in distributions()}
    names = sorted(n for n in all_names if n.startswith("opencv"))
    assert len(names) == 1, f"several OpenCV wheels share the cv2 package and break each other: {names}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    test_cmds = [b.strip() for b in blocks if "pytest" in b]
    assert test_cmds, "README.md must show the test command"
    assert test_cmds[0] in (REPO / ".ci" / "run").read_text()
