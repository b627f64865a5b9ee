"""``python -m faceanalytics.train.quantize``: INT8 (CPU) and FP16 (GPU) variants of an FPENet model.

* INT8: onnxruntime static quantisation of the convolutions (QDQ, per-channel signed 8-bit weights,
  unsigned 8-bit activations: the U8S8 path of x86 VNNI), calibrated on training crops cut exactly
  as at run time (detector-like boxes of training identities, never validation ones). Pooling,
  upsampling, concatenation and the soft-argmax tail stay float (quantising them too was slower
  here), so the contract (float32 in, float32 out) is unchanged.
* FP16: weights and activations in half precision, inputs and outputs kept float32
  (``keep_io_types``), for the CUDA and TensorRT execution providers.

Each variant is shipped only if it loses at most 0.2 points of NME (``faceanalytics.train.evaluate``
prints the numbers; ``models/README.md`` has them).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from faceanalytics.geometry.crop import crop_faces, square_crop_matrices
from faceanalytics.runners.fpenet import CROP_SCALE_KEY
from faceanalytics.train.boxes import BoxStats, sample_detector_box
from faceanalytics.train.data import load_gray, split_by_identity
from faceanalytics.train.loop import load_samples

__all__ = ["calibration_crops", "model_crop_scale", "quantize_fp16", "quantize_int8"]

logger = logging.getLogger("faceanalytics.train")


def _metadata(model: str | Path) -> dict[str, str]:
    """An ONNX file's metadata properties."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}


def model_crop_scale(model: str | Path) -> float:
    """The ``crop_scale`` metadata of an FPENet ONNX file (1.0, TAO's crop, when absent)."""
    return float(_metadata(model).get(CROP_SCALE_KEY, 1.0))


def _copy_metadata(source: str | Path, target: Path) -> None:
    """Carry the source model's metadata (its ``crop_scale``) over to a converted file."""
    import onnx

    proto = onnx.load(str(target))
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, _metadata(source))
    onnx.save(proto, str(target))


def calibration_crops(
    data: str | Path, box_stats: str | Path, n: int = 256, seed: int = 0, crop_scale: float = 1.0
) -> np.ndarray:
    """(n, 1, 80, 80) float32 crops of training identities from detector-like boxes, cut with the
    model's ``crop_scale``."""
    train, _ = split_by_identity(load_samples(data), 0.15, seed)
    stats = BoxStats.load(box_stats)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(train), size=min(n, len(train)), replace=False)
    crops = np.empty((len(picks), 1, 80, 80), np.float32)
    for j, i in enumerate(picks):
        s = train[int(i)]
        box = sample_detector_box(s.points, stats, rng, spread=1.0)
        crop_faces(load_gray(s.path), square_crop_matrices(box[None], 80, crop_scale), 80, out=crops[j : j + 1])
    return crops


def quantize_int8(model: str | Path, out: str | Path, crops: np.ndarray) -> Path:
    """Static INT8 quantisation of the convolutions of ``model``, calibrated on ``crops``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter([{"input_face_images": crops[i : i + 16]} for i in range(0, len(crops), 16)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            # 7-bit weights: on x86 CPUs without VNNI (AVX2 only) onnxruntime's u8 x s8 products
            # saturate with full-range weights; that cost 0.11 points of NME and took the EAR AUC
            # from 0.986 to 0.953 on such a CPU (models/README.md, "Variants: INT8 and FP16")
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"],
        )
    _copy_metadata(model, out)
    logger.info("INT8 model %s: %.2f MB", out, out.stat().st_size / 1e6)
    return out


def quantize_fp16(model: str | Path, out: str | Path) -> Path:
    """Half-precision weights and activations, float32 input and outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load(str(model)), keep_io_types=True)
    out = Path(out)
    onnx.save(proto, str(out))
    _copy_metadata(model, out)
    logger.info("FP16 model %s: %.2f MB", out, out.stat().st_size / 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m faceanalytics.train.quantize", description=__doc__)
    p.add_argument("--model", default="faceanalytics/weights/fpenet68.onnx", help="float32 FPENet ONNX file")
    p.add_argument("--data", default="../shared/data/landmarks68", help="landmarks68 folder (calibration crops)")
    p.add_argument("--box-stats", default="models/box_stats.json", help="detector box statistics of the training run")
    p.add_argument("--out", default="faceanalytics/weights", help="folder for <name>_int8.onnx and <name>_fp16.onnx")
    p.add_argument("--calibration", type=int, default=256, help="calibration crops")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    model, out = Path(args.model), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    crops = calibration_crops(args.data, args.box_stats, args.calibration, crop_scale=model_crop_scale(model))
    print(quantize_int8(model, out / f"{model.stem}_int8.onnx", crops))  # noqa: T201
    print(quantize_fp16(model, out / f"{model.stem}_fp16.onnx"))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
