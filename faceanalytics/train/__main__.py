"""``python -m faceanalytics.train --data DIR --out models/``: train and export FPENet-68."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from faceanalytics.train.loop import TrainConfig, train
from faceanalytics.train.model import DECODERS


def _keep_heap() -> None:
    """Stop glibc from returning large buffers to the OS after every step (best effort, Linux only).

    Each training step allocates and frees ~50 MB heatmap tensors; with glibc's defaults these are
    fresh ``mmap`` s, and the page faults double the step time on CPU.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        libc.mallopt(m_mmap_max, 0)  # no mmap'd chunks: large buffers come from (and stay in) the heap
        libc.mallopt(m_trim_threshold, 1 << 31)
    except (OSError, AttributeError):
        pass


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig(data="")
    p = argparse.ArgumentParser(prog="python -m faceanalytics.train", description=__doc__)
    p.add_argument("--data", required=True, help="landmarks68 folder (annotations.csv + images/) or a folder of iBUG .pts files")
    p.add_argument("--out", default=d.out, help="output folder: fpenet68.onnx, box_stats.json, history.json, train.log")
    p.add_argument("--checkpoints", default=None, help="checkpoint folder (default OUT/checkpoints; do not commit it)")
    p.add_argument("--eye-state", default=None, help="eye_state folder (closed/, open/); default ../eye_state")
    p.add_argument("--no-eye-state", action="store_true", help="skip the closed-eye stage")
    p.add_argument(
        "--unlabeled",
        default=None,
        help="folder of IDENTITY_NN.jpg frames for the teacher to label in stage 2 (e.g. DATA/unlabeled; default: none)",
    )
    p.add_argument(
        "--pseudo-faces",
        type=int,
        default=0,
        metavar="N",
        help="stage 2 also learns N more faces of eye_state/open (other people), labelled by the teacher on all points",
    )
    p.add_argument(
        "--teacher",
        default=None,
        metavar="CHECKPOINT",
        help="a checkpoint of another run (its checkpoints/teacher.pt or last.pt, any widths) whose model labels the "
        "stage-2 faces instead of this run's stage 1: distillation from a larger network",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--teacher-epochs", type=int, default=d.teacher_epochs, help="stage 1 epochs (the teacher)")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs, help="stage 3 epochs (light augmentation)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--loss", choices=("l1", "l2", "wing"), default=d.loss)
    p.add_argument("--eye-weight", type=float, default=d.eye_weight)
    p.add_argument("--mouth-weight", type=float, default=d.mouth_weight)
    p.add_argument("--rest-weight", type=float, default=d.rest_weight)
    p.add_argument("--inner-lip-weight", type=float, default=None, help="weight of the inner lips (default: --mouth-weight)")
    p.add_argument("--gap-weight", type=float, default=d.gap_weight, help="weight of the inner-lip gap loss (0: off)")
    p.add_argument(
        "--open-mouth-repeat", type=int, default=d.open_mouth_repeat,
        help="annotated faces with an inner-lip MAR >= --open-mouth-mar appear this many times per epoch",
    )  # fmt: skip
    p.add_argument("--open-mouth-mar", type=float, default=d.open_mouth_mar)
    p.add_argument(
        "--texture-occlusion", type=float, default=d.texture_occlusion,
        help="share of stage 1-2 crops with a blob or bar of the crop's own texture over the face (0: off)",
    )  # fmt: skip
    p.add_argument("--widths", default=",".join(map(str, d.widths)), help="channels of the 80,40,20,10 px branches")
    p.add_argument(
        "--decoder",
        choices=DECODERS,
        default=d.decoder,
        help="how the decoder recombines the branches: concat (TAO's recombinator) or add (a third of its cost)",
    )
    p.add_argument(
        "--crop-scale",
        type=float,
        default=d.crop_scale,
        help="crop side / face box side (1.0: TAO's crop; the default leaves a margin so the chin stays inside)",
    )
    p.add_argument(
        "--label-shift-x",
        type=float,
        default=d.label_shift_x,
        help="how far right of mirror symmetry the annotations sit, as a fraction of the outer-eye-corner distance; "
        "flipped crops keep the offset (landmarks68: 0.022, see models/README.md; default: symmetric)",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto (CUDA when available), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from CHECKPOINTS/last.pt")
    p.add_argument("--package", action="store_true", help="also copy it to faceanalytics/weights/fpenet68.onnx")
    p.add_argument("--limit", type=int, default=None, help="use at most this many training frames (smoke tests)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _keep_heap()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=[logging.StreamHandler(sys.stderr), logging.FileHandler(out / "train.log")],
    )
    eye_state = args.eye_state
    if eye_state is None and not args.no_eye_state:
        guess = Path(args.data).resolve().parent / "eye_state"
        eye_state = str(guess) if (guess / "closed").is_dir() else None
    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        checkpoints=args.checkpoints,
        eye_state=None if args.no_eye_state else eye_state,
        unlabeled=args.unlabeled,
        pseudo_faces=args.pseudo_faces,
        teacher=args.teacher,
        epochs=args.epochs,
        teacher_epochs=args.teacher_epochs,
        finetune_epochs=args.finetune_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        eye_weight=args.eye_weight,
        mouth_weight=args.mouth_weight,
        rest_weight=args.rest_weight,
        inner_lip_weight=args.inner_lip_weight,
        gap_weight=args.gap_weight,
        open_mouth_repeat=args.open_mouth_repeat,
        open_mouth_mar=args.open_mouth_mar,
        texture_occlusion=args.texture_occlusion,
        widths=tuple(int(w) for w in args.widths.split(",")),
        decoder=args.decoder,
        crop_scale=args.crop_scale,
        label_shift_x=args.label_shift_x,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        limit=args.limit,
    )
    path = train(cfg, resume=args.resume)
    if args.package:
        dest = Path(__file__).resolve().parents[1] / "weights" / "fpenet68.onnx"
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, dest)
        path = dest
    print(path)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
