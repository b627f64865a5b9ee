"""Install size and time, and first-call latency, of the default and the lean CPU install.

For each install it makes a new venv in a temporary folder, installs this checkout as the docs
say (default: ``pip install .``; lean: ``pip install -r requirements-cpu.txt && pip install
--no-deps .``), with pip's cache off so every wheel comes from the package index, and prints:

* install seconds and the venv's size on disk (MB);
* first-call latency: a new process, ``from faceanalytics import Pipeline``, ``Pipeline()`` and
  its first image, timed in three parts, with an empty ``FACEANALYTICS_HOME`` (offline start);
* ``faceanalytics detect photo.jpg``, timed as a whole command.

    python benchmarks/install.py [--image photo.jpg] [--only default|lean]

Needs the package index (the network or a mirror); takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

INSTALLS = {
    "default": ["pip install --no-cache-dir -q ."],
    "lean": ["pip install --no-cache-dir -q -r requirements-cpu.txt", "pip install --no-cache-dir -q --no-deps ."],
}

FIRST_CALL = """
import json, sys, time
t0 = time.perf_counter()
from faceanalytics import Pipeline
t1 = time.perf_counter()
pipe = Pipeline()
t2 = time.perf_counter()
result = pipe(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "pipeline_s": t2 - t1, "first_image_s": t3 - t2, "faces": len(result.faces),
                  "providers": list(pipe.providers)}))
"""


def _size_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total / 1e6


def measure(kind: str, image: Path, work: Path) -> dict:
    venv = work / f"venv-{kind}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env["FACEANALYTICS_HOME"] = str(work / f"home-{kind}")  # empty: nothing cached, nothing downloaded
    env.pop("PYTHONPATH", None)
    t = time.perf_counter()
    for cmd in INSTALLS[kind]:
        subprocess.run(cmd, shell=True, check=True, cwd=REPO, env=env)
    install_s = time.perf_counter() - t
    python = str(venv / "bin" / "python")
    first = subprocess.run([python, "-c", FIRST_CALL, str(image)], check=True, capture_output=True, text=True, env=env, cwd=work)
    row = {"install": kind, "install_s": round(install_s, 1), "venv_mb": round(_size_mb(venv))}
    row.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in json.loads(first.stdout).items()})
    t = time.perf_counter()
    cli = [str(venv / "bin" / "faceanalytics"), "detect", str(image)]
    subprocess.run(cli, check=True, capture_output=True, env=env, cwd=work)
    row["cli_detect_s"] = round(time.perf_counter() - t, 2)
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, env=env)
    row["packages"] = listed.stdout.split()
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", type=Path, help="a photo with a face (default: a frame made from ../shared)")
    ap.add_argument("--only", choices=sorted(INSTALLS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fa-install-") as tmp:
        work = Path(tmp)
        image = args.image
        if image is None:
            import cv2
            import numpy as np

            src = sorted((REPO.parent / "shared" / "data" / "landmarks68" / "images").glob("*.jpg"))
            if not src:
                print("install.py: error: pass --image (../shared is not here)", file=sys.stderr)
                return 1
            frame = np.full((480, 640, 3), 90, np.uint8)
            face = cv2.resize(cv2.imread(str(src[0])), (264, 288))
            frame[96:384, 188:452] = face
            image = work / "photo.jpg"
            cv2.imwrite(str(image), frame)
        for kind in [args.only] if args.only else list(INSTALLS):
            row = measure(kind, image.resolve(), work)
            packages = row.pop("packages")
            print(json.dumps(row))
            print(f"  {kind}: {' '.join(p for p in packages if p.split('==')[0].lower() in _SHOWN)}")
    return 0


_SHOWN = {"onnxruntime", "onnxruntime-gpu", "opencv-contrib-python", "opencv-python-headless", "numpy", "onnx", "mediapipe"}

if __name__ == "__main__":
    raise SystemExit(main())
