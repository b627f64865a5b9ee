"""Every image of a folder through the pipeline, one JSON line per image.

    python examples/batch_folder.py photos/ --out results.jsonl [--landmark-model fpenet.onnx]

Images that cannot be read are reported and skipped; the rest are still processed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from faceanalytics import FaceAnalyticsError, Pipeline
from faceanalytics.io.video_source import IMAGE_SUFFIXES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    files = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    pipe = Pipeline(args.landmark_model)
    faces = failed = 0
    with open(args.out, "w") as out:  # noqa: PTH123
        for f in files:
            try:
                result = pipe(f)
            except FaceAnalyticsError as exc:
                print(f"{f}: {exc}")
                failed += 1
                continue
            out.write(json.dumps({"image": str(f), **result.to_dict()}) + "\n")
            faces += len(result.faces)
    print(f"{len(files) - failed} images, {faces} faces, {failed} unreadable -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
