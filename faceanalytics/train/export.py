"""ONNX export following the FPENet contract.

One input ``input_face_images`` float32 [N, 1, 80, 80] (dynamic N, raw 0-255; normalisation is in
the graph); outputs ``softargmax`` [N, K, 2] (x, y in 80x80 crop pixels, pixel centres on
integers) and ``softargmax:1`` [N, K] (peak of each keypoint's softmax). fp32, opset 17,
IR version <= 10 so that onnxruntime >= 1.18 (and TAO / DeepStream tooling) load it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from faceanalytics.runners.fpenet import (  # the contract, defined once
    CROP_SCALE_KEY,
    INPUT_NAME,
    OUTPUT_CONFIDENCE,
    OUTPUT_POINTS,
)
from faceanalytics.train.model import CROP_SIZE

if TYPE_CHECKING:
    import onnx

__all__ = ["INPUT_NAME", "OPSET", "OUTPUT_CONFIDENCE", "OUTPUT_POINTS", "export_onnx"]

logger = logging.getLogger("faceanalytics.train")

OPSET = 17
MAX_IR_VERSION = 10


def export_onnx(model: torch.nn.Module, path: str | Path, opset: int = OPSET, crop_scale: float = 1.0) -> Path:
    """Export ``model`` ((N, 1, 80, 80) -> (coords, confidence)) to ``path`` and check the file.

    ``crop_scale`` (the crop side over the face box side the model was trained with) is written to
    the file's metadata as ``crop_scale``, where :class:`~faceanalytics.runners.fpenet.FPENetRunner` reads it.

    Raises:
        RuntimeError: the exported graph does not reproduce the torch outputs.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    dummy = torch.rand(2, 1, CROP_SIZE, CROP_SIZE) * 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_POINTS, OUTPUT_CONFIDENCE],
            dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_POINTS: {0: "N"}, OUTPUT_CONFIDENCE: {0: "N"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = _one_batch_dimension(onnx.shape_inference.infer_shapes(onnx.load(str(path))))
    if proto.ir_version > MAX_IR_VERSION:
        proto.ir_version = MAX_IR_VERSION
    proto.producer_name = "faceanalytics.train"
    proto.doc_string = "FPENet-68 recombinator network (faceanalytics); input raw 0-255 gray 80x80 crops"
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {CROP_SCALE_KEY: repr(float(crop_scale))})
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    _verify(model, path, dummy)
    logger.info("ONNX %s: %.2f MB, opset %d, IR %d", path, path.stat().st_size / 1e6, opset, proto.ir_version)
    return path


def _one_batch_dimension(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Name the batch dimension ``N`` in every intermediate shape.

    Shape inference gives a ``Resize`` output a new symbolic batch (``unk__0``), as it multiplies
    the batch by its scale 1. onnxruntime then sees the upsampled map and the convolution output
    it is added to (the ``add`` decoder) as different shapes and does not fuse the addition and the
    ReLU into the convolution: about 8 % of the network's time. Every tensor of these networks
    from the input to the heatmaps is batch-first, so the batch dimension is ``N`` throughout.
    """
    for value in proto.graph.value_info:
        dims = value.type.tensor_type.shape.dim
        if len(dims) >= 3 and dims[0].dim_param.startswith("unk__"):
            dims[0].dim_param = "N"
    return proto


def _verify(model: torch.nn.Module, path: Path, x: torch.Tensor) -> None:
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pts, conf = sess.run([OUTPUT_POINTS, OUTPUT_CONFIDENCE], {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        tp, tc = model(x)
    if not (np.allclose(pts, tp.numpy(), atol=1e-2) and np.allclose(conf, tc.numpy(), atol=1e-4)):
        raise RuntimeError(f"{path}: onnxruntime outputs differ from torch (max point diff {np.abs(pts - tp.numpy()).max():.4f})")
