"""Derive the FaceMesh-vertex -> iBUG-68 mapping (``faceanalytics/train/mesh68.json``) used by
the evaluation's FaceMesh column.

For each of the 68 annotated points, the mesh vertex whose position is nearest on average
(normalised by the outer-eye-corner distance) over the *training* identities of
../shared/data/landmarks68 (the split of ``faceanalytics.train.data.split_by_identity``).
Validation identities are never used, so the evaluation stays held-out for FaceMesh too.

    python benchmarks/derive_mesh_map.py [--data ../shared/data/landmarks68]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceanalytics.train.data import read_csv, split_by_identity
from faceanalytics.train.facemesh import MESH_MAP, run_facemesh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "landmarks68"))
    args = ap.parse_args()
    samples = read_csv(Path(args.data) / "annotations.csv")
    train, _ = split_by_identity(samples)
    meshes = run_facemesh([s.path for s in train])
    cost = np.zeros((68, 468))
    n = 0
    for s, mesh in zip(train, meshes, strict=True):
        if mesh is None:
            continue
        gt = s.points
        iod = np.linalg.norm(gt[36] - gt[45])
        cost += np.linalg.norm(gt[:, None, :] - mesh[None, :, :], axis=2) / iod
        n += 1
    cost /= n
    index = cost.argmin(axis=1)
    residual = cost[np.arange(68), index]
    MESH_MAP.write_text(
        json.dumps(
            {
                "mesh_to_68": index.tolist(),
                "faces_used": n,
                "mean_residual_nme": float(residual.mean()),
                "source": "derive_mesh_map.py on the training identities of ../shared/data/landmarks68",
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{n} faces; mean residual {residual.mean():.4f} of the inter-ocular distance; wrote {MESH_MAP}")


if __name__ == "__main__":
    main()
