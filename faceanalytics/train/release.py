"""Ship a newly trained landmark model and rebuild everything that depends on its points.

    python -m faceanalytics.train.release --run models/      # the --out folder of python -m faceanalytics.train
    python -m faceanalytics.train.release --run models/ --from eyes   # resume after a failed step
    python -m faceanalytics.train.release --run models/ --dry-run     # print the steps only

The landmark model is the first link of a chain: the quantised files are made from it, and the
point confidence, mouth models, eye-openness network and expression model are fitted on its
points. Each step below runs the documented command of its own recipe (models/README.md), then
``python -m faceanalytics.train.register`` brings the declared sha256s and the eye threshold in
step with the new files. The step order is the dependency order.

Everything is written into the working tree (``faceanalytics/weights/``, ``models/``, the
registry and calibration constants), so git is the staging area: compare the old and new models
(``python benchmarks/landmark_models.py``; the old file from ``git show HEAD:...``) before
committing, or ``git checkout`` to drop the lot.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("faceanalytics")

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "faceanalytics" / "weights"


@dataclass(frozen=True)
class Step:
    """One rebuild step: ``commands`` run from the repository root (``python`` is this interpreter;
    ``{run}`` is the training folder), then ``register`` (shipped model names whose declared
    digests follow the files, the eye threshold always)."""

    name: str
    what: str
    commands: tuple[tuple[str, ...], ...]
    register: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    Step(
        "landmarks", "the trained model and its run's box statistics and history into the package",
        (("copy", "{run}/fpenet68.onnx", "faceanalytics/weights/fpenet68.onnx"),
         ("copy", "{run}/box_stats.json", "models/box_stats.json"),
         ("copy", "{run}/history.json", "models/history.json")),
        ("fpenet68",),
    ),
    Step(
        "quantize", "INT8 and FP16 files from the float32 model",
        (("python", "-m", "faceanalytics.train.quantize", "--box-stats", "models/box_stats.json"),),
        ("fpenet68-int8", "fpenet68-fp16"),
    ),
    Step(
        "confidence", "per-point confidence calibration of the three landmark files",
        (("python", "benchmarks/point_confidence.py", "--write"),),
    ),
    Step("mouth", "mouth-cue network", (("python", "-m", "faceanalytics.train.mouth"),), ("mouth-cues",)),
    Step(
        "mouth-linear", "linear smile and mouth-open models",
        (("python", "benchmarks/calibrate_mouth.py", "--write"),), ("mouth-linear",),
    ),
    Step("eyes", "eye-openness network, threshold", (("python", "-m", "faceanalytics.train.eye_openness"),), ("eye-openness",)),
    Step("expression", "expression-fer5", (("python", "-m", "faceanalytics.train.expression"),), ("expression-fer5",)),
)  # fmt: skip


def plan(start: str | None = None, only: Sequence[str] = ()) -> list[Step]:
    """The steps to run: all, from ``start`` on, or ``only`` those named (in chain order)."""
    names = [s.name for s in STEPS]
    for name in [*([start] if start else []), *only]:
        if name not in names:
            raise ValueError(f"unknown step {name!r}; steps: {', '.join(names)}")
    steps = list(STEPS[names.index(start) :]) if start else list(STEPS)
    return [s for s in steps if s.name in only] if only else steps


def commands(step: Step, run: Path) -> list[tuple[str, ...]]:
    """``step``'s commands with ``{run}`` filled in and its register command last."""
    out = [tuple(a.replace("{run}", str(run)) for a in cmd) for cmd in step.commands]
    return [*out, ("python", "-m", "faceanalytics.train.register", *step.register)]


def _execute(cmd: tuple[str, ...]) -> None:
    if cmd[0] == "copy":
        src, dest = Path(cmd[1]), ROOT / cmd[2]
        if not src.is_file():
            raise FileNotFoundError(f"{src} is missing (is the training run finished?)")
        shutil.copyfile(src, dest)
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    # benchmarks/*.py import the package of this checkout, not whichever one is installed
    subprocess.run([sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]], cwd=ROOT, check=True, env=env)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m faceanalytics.train.release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", required=True, help="the --out folder of a finished python -m faceanalytics.train")
    ap.add_argument("--from", dest="start", help="start at this step (after a failure)")
    ap.add_argument("--only", nargs="+", default=[], help="run only these steps")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    run = Path(args.run).resolve()
    try:
        steps = plan(args.start, args.only)
    except ValueError as e:
        ap.error(str(e))
    if not args.dry_run and not (run / "fpenet68.onnx").is_file():
        ap.error(f"{run / 'fpenet68.onnx'} is missing: the run has not finished (or --run is wrong)")
    for step in steps:
        t0 = time.time()
        log.info("step %s: %s", step.name, step.what)
        for cmd in commands(step, run):
            if args.dry_run:
                print(step.name, " ".join(cmd))  # noqa: T201
            else:
                log.info("  %s", " ".join(cmd))
                _execute(cmd)
        if not args.dry_run:
            log.info("step %s done (%.0f s)", step.name, time.time() - t0)
    if not args.dry_run:
        log.info("done; compare before committing: python benchmarks/landmark_models.py (models/README.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
