"""The training loop: data, two stages (teacher, then with closed-eye pseudo-labels), checkpoints, resume.

Stage 1 trains on the annotated faces. At its end the model is the teacher: it labels the
training part of ``eye_state`` (closed eyes collapsed, see :mod:`.eyes`), and stage 2 continues
(with a fresh cosine learning-rate cycle) on the annotated faces plus those pseudo-labelled ones.
Every epoch writes ``checkpoints/last.pt``; ``resume=True`` continues from it, reproducing the
same run (each sample's augmentation is seeded by ``(seed, epoch, index)``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from faceanalytics.core.image import load_image
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.crop import crop_to_image, square_crop_matrices
from faceanalytics.geometry.face_frame import eye_corner_distances
from faceanalytics.geometry.mouth import mouth_features
from faceanalytics.train.augment import AugmentConfig, make_crop
from faceanalytics.train.boxes import BoxStats, box_from_features, collect_box_stats, sample_detector_box, sample_tracking_box
from faceanalytics.train.data import LandmarkSample, load_gray, read_csv, read_pts_folder, split_by_identity, unlabeled_identity
from faceanalytics.train.eyes import collapse_eyelids, pad_face_crop, split_eye_state
from faceanalytics.train.losses import flat_heatmap_loss, heatmap_cross_entropy, inner_gap_loss, landmark_loss, region_weights
from faceanalytics.train.model import CROP_SIZE, RecombinatorNet

__all__ = ["LIGHT_AUGMENT", "TrainConfig", "choose_device", "nme", "predict_image_points", "train"]

logger = logging.getLogger("faceanalytics.train")


#: Stage 3 (fine-tuning) augmentation: same kinds, milder and rarer.
LIGHT_AUGMENT = AugmentConfig(
    rotation_std_deg=6.0,
    scale=0.04,
    shift=0.015,
    gamma_p=0.3,
    contrast_p=0.3,
    blur_p=0.1,
    noise_p=0.1,
    occlusion_p=0.03,
    jpeg_p=0.1,
    downscale_p=0.05,
)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint)."""

    data: str
    out: str = "models"
    checkpoints: str | None = None  # default: <out>/checkpoints
    eye_state: str | None = None  # e.g. ../shared/data/eye_state; None: no closed-eye stage
    unlabeled: str | None = None  # e.g. ../shared/data/landmarks68/unlabeled; frames of training identities only
    unlabeled_weight: float = 0.5  # weight of pseudo-labelled unlabeled frames relative to annotated ones
    pseudo_faces: int = 0  # stage 2: this many more eye_state/open faces (other people), teacher-labelled on all points
    pseudo_faces_weight: float = 0.5  # their weight relative to annotated faces
    teacher: str | None = None  # another run's checkpoint whose model labels stage 2's faces (None: this run's stage 1)
    epochs: int = 112
    teacher_epochs: int = 55  # stage 1 length; stage 2 runs epochs - teacher_epochs - finetune_epochs
    finetune_epochs: int = 12  # stage 3: light augmentation, small learning rate
    finetune_lr: float = 3e-4
    heatmap_weight: float = 1.0  # stage 3: Gaussian heatmap cross-entropy (sharp maps -> meaningful confidence)
    negative_fraction: float = 0.2  # stage 3: share of crops without a face (their maps are pushed flat)
    negative_weight: float = 0.5
    batch_size: int = 32
    lr: float = 2e-3
    stage2_lr: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "wing"
    eye_weight: float = 2.0
    mouth_weight: float = 1.5
    inner_lip_weight: float | None = None  # None: mouth_weight
    gap_weight: float = 0.0  # weight of the inner-lip gap loss (losses.inner_gap_loss)
    open_mouth_repeat: int = 1  # annotated faces with an inner-lip MAR >= open_mouth_mar appear this many times per epoch
    open_mouth_mar: float = 0.2
    texture_occlusion: float = 0.0  # stages 1-2: share of crops with a textured occluder (augment.textured_occluder)
    rest_weight: float = 1.0
    pseudo_rest_weight: float = 0.3  # weight of non-eye points of pseudo-labelled faces
    closed_repeat: int = 2  # closed-eye faces appear this many times per stage-2 epoch
    val_fraction: float = 0.15
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    widths: tuple[int, ...] = (16, 32, 64, 64)
    decoder: str = "concat"  # how the decoder recombines branches: "concat" or "add" (model.py)
    label_shift_x: float = 0.0  # annotations' offset right of mirror symmetry, / outer-eye-corner distance (flips keep it)
    crop_scale: float = 1.25  # crop side / face box side (1.0 is TAO's crop; 1.25 keeps the chin inside BlazeFace crops)
    tracking_fraction: float = 0.2  # crops from previous-frame landmark boxes instead of detector-like boxes
    box_spread: float = 1.5
    detector: str = "short"
    limit: int | None = None  # at most this many training frames (smoke tests)
    extra: dict = field(default_factory=dict)

    @property
    def has_stage2(self) -> bool:
        """Whether a teacher labels extra faces (closed eyes, unlabeled frames) for a second stage."""
        return bool(self.eye_state or self.unlabeled)  # pseudo_faces come from eye_state

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.checkpoints) if self.checkpoints else Path(self.out) / "checkpoints"


def choose_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_samples(data: str | Path) -> list[LandmarkSample]:
    """A folder with ``annotations.csv`` (landmarks68 layout), or a folder of iBUG ``.pts`` files."""
    data = Path(data)
    if (data / "annotations.csv").exists():
        return read_csv(data / "annotations.csv")
    if data.suffix == ".csv":
        return read_csv(data)
    return read_pts_folder(data)


class CropDataset(Dataset):
    """Augmented 80x80 crops of frames held in memory.

    Each item is ``(crop (1, 80, 80) float32 raw 0-255, points (K, 2) float32 crop pixels,
    weights (K,) float32)``. Weights must be left/right symmetric (flips do not permute them).
    """

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        points: Sequence[np.ndarray],
        weights: Sequence[np.ndarray],
        stats: BoxStats,
        aug: AugmentConfig,
        seed: int,
        tracking_fraction: float = 0.2,
        box_spread: float = 1.5,
        negative_fraction: float = 0.0,
        crop_scale: float = 1.0,
        label_shift_x: float = 0.0,
    ) -> None:
        self.frames, self.points, self.weights = list(frames), list(points), list(weights)
        self.crop_scale, self.label_shift_x = crop_scale, label_shift_x
        self.stats, self.aug, self.seed = stats, aug, seed
        self.tracking_fraction, self.box_spread = tracking_fraction, box_spread
        self.negative_fraction = negative_fraction
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        pts = self.points[i]
        if self.negative_fraction and rng.random() < self.negative_fraction:
            return self._negative(i, rng)
        if rng.random() < self.tracking_fraction:
            box = sample_tracking_box(pts, rng)
        else:
            box = sample_detector_box(pts, self.stats, rng, self.box_spread)
        crop, cpts = make_crop(
            self.frames[i], pts, box, rng, self.aug, crop_scale=self.crop_scale, label_shift_x=self.label_shift_x
        )
        return torch.from_numpy(crop[None].astype(np.float32)), torch.from_numpy(cpts), torch.from_numpy(self.weights[i])

    def _negative(self, i: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A crop a lost tracker could make: a box moved 0.6-1.2 face sizes off the face, scaled 0.5-2x.
        Its weights are all zero, which marks it as a negative."""
        pts = self.points[i]
        box = sample_detector_box(pts, self.stats, rng, self.box_spread)
        side = float(box[2] - box[0])
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(0.6, 1.2) * side
        c = np.array([(box[0] + box[2]) / 2 + dist * np.cos(angle), (box[1] + box[3]) / 2 + dist * np.sin(angle)])
        half = side * float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))) / 2
        neg_box = np.array([*(c - half), *(c + half)], np.float32)
        crop, _ = make_crop(self.frames[i], pts, neg_box, rng, self.aug, crop_scale=self.crop_scale)
        k = len(pts)
        return torch.from_numpy(crop[None].astype(np.float32)), torch.zeros(k, 2), torch.zeros(k)


def nme(pred: np.ndarray, gt: np.ndarray, schema=SCHEMA_68) -> np.ndarray:
    """(N,) mean point error normalised by the outer-eye-corner distance (points 36 and 45)."""
    iod = eye_corner_distances(gt, schema)
    return np.linalg.norm(pred - gt, axis=-1).mean(-1) / np.maximum(iod, 1e-9)


@torch.no_grad()
def predict_image_points(
    model: torch.nn.Module,
    frames: Sequence[np.ndarray],
    boxes: np.ndarray,
    device: torch.device,
    flip_tta: bool = False,
    crop_scale: float = 1.0,
    label_shift_x: float = 0.0,
) -> np.ndarray:
    """(N, K, 2) image landmarks of one box per frame, cropped exactly as at run time.

    With ``flip_tta`` the mirrored crop's points are mirrored back and averaged in; a model trained
    with ``label_shift_x`` puts its mirrored points that far left, so they are moved back right.
    """
    model.eval()
    mats = square_crop_matrices(np.asarray(boxes), CROP_SIZE, crop_scale)
    out = []
    for start in range(0, len(frames), 128):
        chunk = zip(frames[start : start + 128], mats[start : start + 128], strict=True)
        crops = np.stack([cv2.warpAffine(f, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR) for f, m in chunk])
        crops = crops.astype(np.float32)[:, None]
        x = torch.from_numpy(crops).to(device)
        pts = model(x)[0].cpu().numpy()
        if flip_tta:
            fp = model(torch.flip(x, dims=[3]))[0].cpu().numpy()
            fp[..., 0] = CROP_SIZE - 1 - fp[..., 0]
            fp = fp[:, list(SCHEMA_68.flip_permutation)]
            if label_shift_x:
                iod = eye_corner_distances(fp)
                fp[..., 0] += 2 * label_shift_x * iod[:, None]
            pts = (pts + fp) / 2
        out.append(pts)
    return crop_to_image(np.concatenate(out), mats).astype(np.float32)


def load_network(path: str | Path, device: torch.device) -> RecombinatorNet:
    """A network from a checkpoint of any run (``teacher.pt``, a state dict, or ``last.pt``); its
    branch widths and decoder are read from the weights."""
    state = torch.load(path, map_location=device, weights_only=True)  # tensors and plain data only
    state = state.get("model", state)
    widths = tuple(int(state[f"enc{i}.0.0.weight"].shape[0]) for i in range(1, 5))
    decoder = "add" if "dec1.fine.0.weight" in state else "concat"
    net = RecombinatorNet(int(state["head.weight"].shape[0]), widths, decoder).to(device)
    net.load_state_dict(state)
    return net.eval()


def teacher_crop_scale(cfg: TrainConfig) -> float:
    """The crop scale the stage-2 teacher was trained with: from the ``--teacher`` run's checkpoint
    config when it has one (``last.pt``), else this run's (its own stage 1, or a bare state dict)."""
    if cfg.teacher:
        state = torch.load(cfg.teacher, map_location="cpu", weights_only=True)
        config = state.get("config") if isinstance(state, dict) else None
        if isinstance(config, dict):
            return float(config.get("crop_scale", 1.0))  # runs before crop_scale existed used TAO's crop
    return cfg.crop_scale


def _detector(name: str) -> Callable[[np.ndarray], np.ndarray]:
    from faceanalytics.runners.detector import BlazeFaceDetector

    det = BlazeFaceDetector(name)

    def detect(bgr: np.ndarray) -> np.ndarray:
        return np.array([d.box for d in det.detect(bgr)], np.float32).reshape(-1, 4)

    return detect


def _teacher_labels(
    model: torch.nn.Module,
    device: torch.device,
    detect: Callable[[np.ndarray], np.ndarray],
    images: Iterable[tuple[str, np.ndarray | None]],
    crop_scale: float = 1.0,
    label_shift_x: float = 0.0,
) -> tuple[list[str], np.ndarray]:
    """The teacher's flip-averaged landmarks of the largest detected face of each ``(name, bgr)``
    image; unreadable images (``None``) and images without a face are left out.

    Returns:
        ``(names, points)``: the names kept and (N, 68, 2) image points.
    """
    frames, boxes, names = [], [], []
    for name, bgr in images:
        if bgr is None:
            continue
        found = detect(bgr)
        if len(found) == 0:
            continue
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        boxes.append(found[np.argmax((found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1]))])
        names.append(name)
    if not frames:
        return names, np.zeros((0, SCHEMA_68.num_points, 2), np.float32)
    return names, predict_image_points(
        model, frames, np.stack(boxes), device, flip_tta=True, crop_scale=crop_scale, label_shift_x=label_shift_x
    )


#: labels ``(name, bgr)`` images with the stage-2 teacher: ``(names kept, (N, 68, 2) image points)``
Labeller = Callable[[Iterable[tuple[str, np.ndarray | None]]], tuple[list[str], np.ndarray]]


def _labeller(cfg: TrainConfig, teacher: torch.nn.Module, device: torch.device) -> Labeller:
    """The teacher's :func:`_teacher_labels` with its crop scale (read once) and this run's label
    shift; BlazeFace is built on first use, so a resumed run whose labels exist never needs it."""
    crop_scale = teacher_crop_scale(cfg)
    detect: Callable[[np.ndarray], np.ndarray] | None = None

    def label(images: Iterable[tuple[str, np.ndarray | None]]) -> tuple[list[str], np.ndarray]:
        nonlocal detect
        detect = detect or _detector(cfg.detector)
        return _teacher_labels(teacher, device, detect, images, crop_scale, cfg.label_shift_x)

    return label


def _required(folder: str | None, name: str) -> str:
    """A data folder the stage about to run needs (the caller runs the stage only when it is set)."""
    if folder is None:
        raise ValueError(f"this training stage needs --{name.replace('_', '-')}")
    return folder


def _padded_gray(path: str | Path) -> np.ndarray:
    """A tight face crop (eye_state) as stage 2 trains on it: padded (:func:`.eyes.pad_face_crop`), gray."""
    return cv2.cvtColor(pad_face_crop(load_image(path)), cv2.COLOR_BGR2GRAY)


def _pseudo_labels(cfg: TrainConfig, label: Labeller, path: Path) -> None:
    """Label the training part of eye_state with the teacher; save ``files``, ``points`` (padded-image
    pixels, see :func:`.eyes.pad_face_crop`) and ``closed`` to ``path``."""
    split = split_eye_state(_required(cfg.eye_state, "eye_state"), seed=cfg.seed)
    closed_files = {str(f) for f in split.closed_train}
    images = ((str(f), pad_face_crop(load_image(f))) for f in [*split.closed_train, *split.open_train])
    names, pts = label(images)
    closed_arr = np.array([n in closed_files for n in names], bool)
    if closed_arr.any():
        pts[closed_arr] = np.stack([collapse_eyelids(p) for p in pts[closed_arr]])
    np.savez_compressed(path, points=pts, closed=closed_arr, files=np.array(names))
    logger.info("pseudo-labelled %d closed-eye and %d open-eye faces -> %s", closed_arr.sum(), (~closed_arr).sum(), path)


def _label_pseudo_faces(cfg: TrainConfig, label: Labeller, path: Path) -> None:
    """Label ``cfg.pseudo_faces`` open-eye faces of eye_state (UTKFace: people outside the landmark
    data, every age and ethnicity) with the teacher, never the held-out ones; padded like eye_state."""
    split = split_eye_state(_required(cfg.eye_state, "eye_state"), seed=cfg.seed, open_extra=cfg.pseudo_faces)
    images = ((str(f), pad_face_crop(load_image(f))) for f in split.open_extra)
    names, pts = label(images)
    np.savez_compressed(path, points=pts, files=np.array(names))
    logger.info("pseudo-labelled %d faces of other people -> %s", len(names), path)


def _label_unlabeled(cfg: TrainConfig, label: Labeller, identities: set[str], path: Path) -> None:
    """Label the unlabeled frames of the training identities with the teacher (BlazeFace box, flip
    test-time averaging); frames of other identities (validation ones) are never used."""
    folder = Path(_required(cfg.unlabeled, "unlabeled"))
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = ((str(f), load_image(f)) for f in files if unlabeled_identity(f) in identities)
    names, pts = label(images)
    np.savez_compressed(path, points=pts, files=np.array(names))
    logger.info("pseudo-labelled %d unlabeled frames of %d training identities -> %s", len(names), len(identities), path)


def _lr_at(cfg: TrainConfig, epoch: int, step: float) -> float:
    """Cosine schedule per stage (``step`` in [0, 1) within the epoch), with one warm-up epoch."""
    stage3 = cfg.epochs - cfg.finetune_epochs
    if epoch >= stage3:
        t = (epoch - stage3 + step) / cfg.finetune_epochs
        return cfg.finetune_lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if epoch < cfg.teacher_epochs or not cfg.has_stage2:
        n = cfg.teacher_epochs if cfg.has_stage2 else stage3
        t = (epoch + step) / n
        warm = min(1.0, (epoch + step) / 1.0)
        return cfg.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
    t = (epoch - cfg.teacher_epochs + step) / max(stage3 - cfg.teacher_epochs, 1)
    return cfg.stage2_lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Run (or resume) training; returns the exported ONNX path ``<out>/fpenet68.onnx``."""
    from faceanalytics.train.export import export_onnx

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = choose_device(cfg.device)
    out, ckdir = Path(cfg.out), cfg.checkpoint_dir
    out.mkdir(parents=True, exist_ok=True)
    ckdir.mkdir(parents=True, exist_ok=True)
    logger.info("config: %s", json.dumps(asdict(cfg)))
    logger.info("device %s, torch %s, %d threads", device, torch.__version__, torch.get_num_threads())

    samples = load_samples(cfg.data)
    train_s, val_s = split_by_identity(samples, cfg.val_fraction, cfg.seed)
    if cfg.limit:
        train_s, val_s = train_s[: cfg.limit], val_s[: max(cfg.limit // 4, 1)]
    logger.info(
        "split by identity: %d train frames, %d val frames (%d val identities)",
        len(train_s),
        len(val_s),
        len({s.identity for s in val_s}),
    )
    (ckdir / "split.json").write_text(json.dumps({"val_identities": sorted({s.identity for s in val_s})}, indent=1))

    stats_path = out / "box_stats.json"
    if stats_path.exists():
        stats = BoxStats.load(stats_path)
        logger.info("box stats from %s", stats_path)
    else:
        stats = collect_box_stats(train_s, _detector(cfg.detector), f"blazeface-{cfg.detector}")
        stats.save(stats_path)

    frames = [load_gray(s.path) for s in train_s]
    points = [s.points.astype(np.float32) for s in train_s]
    wbase = region_weights(cfg.eye_weight, cfg.mouth_weight, cfg.rest_weight, inner_lips=cfg.inner_lip_weight).numpy()
    weights = [wbase] * len(frames)
    if cfg.open_mouth_repeat > 1:  # few annotated mouths are wide open: show those more often
        wide = [k for k, p in enumerate(points) if mouth_features(p)[0] >= cfg.open_mouth_mar]
        for k in wide * (cfg.open_mouth_repeat - 1):
            frames.append(frames[k])
            points.append(points[k])
            weights.append(wbase)
        logger.info(
            "%d of %d training faces have an open mouth (MAR >= %.2f): %d times each",
            len(wide), len(train_s), cfg.open_mouth_mar, cfg.open_mouth_repeat,
        )  # fmt: skip
    aug = AugmentConfig(texture_occlusion_p=cfg.texture_occlusion)

    val_frames = [load_gray(s.path) for s in val_s]
    val_pts = np.stack([s.points for s in val_s]).astype(np.float32)
    val_boxes = np.stack([box_from_features(np.asarray(stats.mean), p) for p in val_pts])

    model = RecombinatorNet(SCHEMA_68.num_points, cfg.widths, cfg.decoder).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, history = 0, []
    last = ckdir / "last.pt"
    if resume and last.exists():
        ck = torch.load(last, map_location=device, weights_only=True)  # tensors and plain data only: no pickled code
        saved = ck.get("config") or {}
        for key in ("crop_scale", "label_shift_x", "widths", "decoder"):  # what the crops and the network must keep
            before, now = saved.get(key, "concat" if key == "decoder" else None), getattr(cfg, key)
            if before is not None and list(np.atleast_1d(before)) != list(np.atleast_1d(now)):
                raise ValueError(f"--resume: {last} was trained with {key}={before}, not {now}; keep it or use a new --out")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, history = ck["epoch"] + 1, ck["history"]
        logger.info("resumed from %s at epoch %d", last, start_epoch)
    elif resume:
        logger.warning("--resume: no checkpoint at %s; starting fresh", last)

    pseudo_path = ckdir / "pseudo_labels.npz"
    unlabeled_path = ckdir / "unlabeled_labels.npz"
    faces_path = ckdir / "pseudo_faces.npz"
    if cfg.teacher:  # a missing or unreadable teacher fails now, not after stage 1
        logger.info("stage 2 teacher %s: widths %s", cfg.teacher, load_network(cfg.teacher, device).widths)
    if cfg.has_stage2 and (
        (cfg.eye_state and not pseudo_path.exists())
        or (cfg.unlabeled and not unlabeled_path.exists())
        or (cfg.eye_state and cfg.pseudo_faces and not faces_path.exists())
    ):  # the teacher's pseudo-labels need BlazeFace: find (or fetch) its weights now, not after stage 1
        from faceanalytics.runtime.hub import resolve_detector_model

        logger.info("BlazeFace for stage 2: %s", resolve_detector_model(cfg.detector))
    stage2_added = False
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.has_stage2 and epoch >= cfg.teacher_epochs and not stage2_added:
            if not (ckdir / "teacher.pt").exists():
                torch.save(model.state_dict(), ckdir / "teacher.pt")
            teacher = load_network(cfg.teacher or ckdir / "teacher.pt", device)
            logger.info("stage 2 teacher: %s, widths %s", cfg.teacher or "this run's stage 1", teacher.widths)
            label = _labeller(cfg, teacher, device)
            if cfg.eye_state:
                if not pseudo_path.exists():
                    _pseudo_labels(cfg, label, pseudo_path)
                pl = np.load(pseudo_path)
                wp = region_weights(cfg.eye_weight, cfg.pseudo_rest_weight, cfg.pseudo_rest_weight).numpy()
                for f, p, c in zip(pl["files"], pl["points"], pl["closed"], strict=True):
                    gray = _padded_gray(f)
                    for _ in range(cfg.closed_repeat if c else 1):
                        frames.append(gray)
                        points.append(p.astype(np.float32))
                        weights.append(wp)
            if cfg.unlabeled:
                if not unlabeled_path.exists():
                    _label_unlabeled(cfg, label, {s.identity for s in train_s}, unlabeled_path)
                ul = np.load(unlabeled_path)
                wu = (wbase * cfg.unlabeled_weight).astype(np.float32)
                for f, p in zip(ul["files"], ul["points"], strict=True):
                    frames.append(load_gray(f))
                    points.append(p.astype(np.float32))
                    weights.append(wu)
            if cfg.eye_state and cfg.pseudo_faces:
                if not faces_path.exists():
                    _label_pseudo_faces(cfg, label, faces_path)
                pf = np.load(faces_path)
                wf = (wbase * cfg.pseudo_faces_weight).astype(np.float32)
                for f, p in zip(pf["files"], pf["points"], strict=True):
                    frames.append(_padded_gray(f))
                    points.append(p.astype(np.float32))
                    weights.append(wf)
            stage2_added = True
            logger.info("stage 2: %d training faces", len(frames))
        finetune = epoch >= cfg.epochs - cfg.finetune_epochs
        aug, spread, neg = (LIGHT_AUGMENT, 1.0, cfg.negative_fraction) if finetune else (aug, cfg.box_spread, 0.0)
        ds = CropDataset(
            frames, points, weights, stats, aug, cfg.seed, cfg.tracking_fraction, spread, neg, cfg.crop_scale, cfg.label_shift_x
        )
        ds.epoch = epoch
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=gen, drop_last=True, num_workers=0)
        model.train()
        t0, total, nb = time.time(), 0.0, len(loader)
        for b, (x, y, w) in enumerate(loader):
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, epoch, b / nb)
            x, y, w = x.to(device), y.to(device), w.to(device)
            if finetune:
                logits = model.heatmaps(x)
                pred, _ = model.softargmax(logits)
                loss = landmark_loss(pred, y, w, cfg.loss) + cfg.heatmap_weight * heatmap_cross_entropy(logits, y, w)
                negative = w.sum(-1) == 0
                if negative.any():
                    loss = loss + cfg.negative_weight * flat_heatmap_loss(logits[negative])
            else:
                pred, _ = model(x)
                loss = landmark_loss(pred, y, w, cfg.loss)
            if cfg.gap_weight:  # every stage (negative crops have zero weights: they add nothing)
                loss = loss + cfg.gap_weight * inner_gap_loss(pred, y, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        pred_val = predict_image_points(model, val_frames, val_boxes, device, crop_scale=cfg.crop_scale)
        val_nme = float(nme(pred_val, val_pts).mean())
        history.append({"epoch": epoch, "loss": total / max(nb, 1), "val_nme": val_nme, "seconds": time.time() - t0})
        logger.info(
            "epoch %d/%d loss %.4f val NME %.2f%% lr %.2e (%.0f s)",
            epoch + 1,
            cfg.epochs,
            total / max(nb, 1),
            100 * val_nme,
            opt.param_groups[0]["lr"],
            time.time() - t0,
        )
        ck = {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(), "history": history}
        torch.save({**ck, "config": asdict(cfg)}, ckdir / "last.tmp")
        (ckdir / "last.tmp").replace(last)
    (out / "history.json").write_text(json.dumps(history, indent=1))
    onnx_path = export_onnx(model.cpu(), out / "fpenet68.onnx", crop_scale=cfg.crop_scale)
    logger.info("exported %s", onnx_path)
    return onnx_path
