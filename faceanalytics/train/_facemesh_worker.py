"""MediaPipe FaceMesh worker, run by ``facemesh.py`` in a separate virtual environment.

It needs mediapipe 0.10.21 (the last release with the legacy ``solutions.face_mesh`` API), which
conflicts with the mediapipe that faceanalytics uses, hence the separate venv:

    python -m venv .venv-facemesh && .venv-facemesh/bin/pip install mediapipe==0.10.21

``--video`` runs FaceMesh in video (tracking) mode instead of static-image mode.

Protocol: one image path per line on stdin; one JSON line per image on stdout:
``{"path": ..., "landmarks": [[x, y], ...] (468 points, pixels) or null, "ms": float}``.
"""

import json
import os
import sys
import time

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2
import mediapipe as mp


def main() -> None:
    video = "--video" in sys.argv[1:]
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1, refine_landmarks=False)
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        image = cv2.imread(path)
        out = {"path": path, "landmarks": None, "ms": 0.0}
        if image is not None:
            h, w = image.shape[:2]
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            res = mesh.process(rgb)
            out["ms"] = (time.perf_counter() - t0) * 1000  # FaceMesh alone: no file reading, no colour conversion
            if res.multi_face_landmarks:
                lm = res.multi_face_landmarks[0].landmark
                out["landmarks"] = [[p.x * w - 0.5, p.y * h - 0.5] for p in lm]
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
