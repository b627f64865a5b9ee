"""Declared model files: every model the library knows by name, with its checksum.

A model is never guessed from tensor shapes alone: a named model is looked up here and its file
checked against the declared sha256 at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DEFAULT_LANDMARK_MODEL", "DETECTOR_MODELS", "EXPRESSION_MODELS", "EYE_MODELS", "LANDMARK_MODELS", "MOUTH_LINEAR_MODEL",
    "MOUTH_MODELS", "ModelSpec",
]  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """One model file.

    Attributes:
        name: registry key, e.g. ``"short"``.
        filename: file name in the package (landmark models) or the model cache (detectors).
        sha256: hex digest the file must have.
        size: file size in bytes (shown before downloads; checked with the digest).
        url: where to download it; ``None`` for files shipped inside the package only.
        shipped: the file ships inside the package (``faceanalytics/weights/``), so it works offline
            from the first run; a model with a ``url`` too is downloaded only if the package lacks it.
        source: where the file comes from and under which licence (provenance, shown by ``info``).
        num_points: landmarks the model returns (landmark models only).
        crop_scale: landmark models only: the side of the square crop over the face box's longer
            side (1.0 is TAO's crop). The file's ``crop_scale`` metadata must agree.
        description: one line for ``faceanalytics info``.
    """

    name: str
    filename: str
    sha256: str
    size: int
    url: str | None = None
    num_points: int | None = None
    crop_scale: float = 1.0
    description: str = ""
    shipped: bool = False
    source: str = ""


#: Both BlazeFace files ship inside the package (faceanalytics/weights/, licence beside them).
_BLAZEFACE_SOURCE = (
    "mediapipe 0.10.21 wheel on PyPI (mediapipe/modules/face_detection/), Apache-2.0, "
    "faceanalytics/weights/LICENSE-BlazeFace.txt"
)

DETECTOR_MODELS = MappingProxyType(
    {
        "short": ModelSpec(
            name="short",
            filename="face_detection_short_range.tflite",
            sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            size=229_714,
            url="https://storage.googleapis.com/mediapipe-assets/face_detection_short_range.tflite?generation=1677044301978921",
            description="MediaPipe BlazeFace short range (faces within about 2 m), 128x128 input, Apache-2.0",
            shipped=True,
            source=_BLAZEFACE_SOURCE,
        ),
        "full": ModelSpec(
            name="full",
            filename="face_detection_full_range_sparse.tflite",
            sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            size=676_746,
            url="https://storage.googleapis.com/mediapipe-assets/face_detection_full_range_sparse.tflite?generation=1674261618323821",
            description="MediaPipe BlazeFace full range sparse (faces up to about 5 m), 192x192 input, Apache-2.0",
            shipped=True,
            source=_BLAZEFACE_SOURCE,
        ),
    }
)

#: Landmark models shipped inside the package (``faceanalytics/weights/``); see models/README.md.
LANDMARK_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType({
    "fpenet68": ModelSpec(
        name="fpenet68",
        filename="fpenet68.onnx",
        sha256="16437a8ef2a713bff161d92b530aa625f9bffb369dc7b5d047b375e8be09fcef",
        size=1_021_110,
        num_points=68,
        crop_scale=1.25,
        description="faceanalytics FPENet-68: recombinator net 16-32-64-64, add decoder, trained on ../shared/data/landmarks68",
        shipped=True,
    ),
    "fpenet68-int8": ModelSpec(
        name="fpenet68-int8",
        filename="fpenet68_int8.onnx",
        sha256="98c80a4455a797a46bfa0d4cae7ce7d511089ef7397adb6d7932917e9cb2495a",
        size=342_275,
        num_points=68,
        crop_scale=1.25,
        description="fpenet68 with INT8 convolutions (onnxruntime static quantisation, QDQ U8S8), for CPUs",
        shipped=True,
    ),
    "fpenet68-fp16": ModelSpec(
        name="fpenet68-fp16",
        filename="fpenet68_fp16.onnx",
        sha256="22e24521e0b620b022a3dadf7e8eaeed5ef77e61b93ee8e5a54c5dc67227ba1c",
        size=518_427,
        num_points=68,
        crop_scale=1.25,
        description="fpenet68 in half precision (float32 input and outputs), for CUDA and TensorRT",
        shipped=True,
    ),
})

#: Mouth-cue networks shipped inside the package (``faceanalytics/runners/mouth_net.py``; see models/README.md).
MOUTH_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType({
    "mouth-cues": ModelSpec(
        name="mouth-cues",
        filename="mouth_cues.onnx",
        sha256="dfbf7a8cdf8b30a419db1ebc6e344cab5c9756f03e7d423bf4c9f9e40e663285",
        size=84_183,
        description="faceanalytics mouth cues: smile and mouth-open logits from the mouth crop and shape, trained on FER-2013",
        shipped=True,
    ),
})

#: The eye-openness network (``EyesPlugin(net="eye-openness")``), trained by
#: ``python -m faceanalytics.train.eye_openness`` (see models/README.md).
EYE_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType({
    "eye-openness": ModelSpec(
        name="eye-openness",
        filename="eye_openness.onnx",
        sha256="ad9a20a9937eaf5528575cecd8d483c73e484c1149a97d2203de80eb32c5a989",
        size=26_432,
        description="faceanalytics eye openness: open-eye logit per eye crop, trained on CEW, UTKFace and YouTube Faces frames",
        shipped=True,
    ),
})

#: Expression networks of the NVIDIA EmotionNet contract (``ExpressionPlugin(model="expression-fer5")``),
#: trained by ``python -m faceanalytics.train.expression`` (see models/README.md).
EXPRESSION_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType({
    "expression-fer5": ModelSpec(
        name="expression-fer5",
        filename="expression_fer5.onnx",
        sha256="170ba3b1d6b31cb25993a0b32ce618db2f3ade9bfe11ebf4c003b1ecb66e5c84",
        size=47_450,
        description="faceanalytics expression-fer5: neutral, happy, surprise, sad, angry from 68 landmarks, trained on FER-2013",
        shipped=True,
        source="trained by faceanalytics on FER-2013 faces in ../shared/data/expressions (research use); models/README.md",
    ),
})

#: The linear smile and mouth-open models over the mouth shape (``MouthPlugin(net=None)``), fitted
#: by ``python benchmarks/calibrate_mouth.py --write`` (see models/README.md).
MOUTH_LINEAR_MODEL = ModelSpec(
    name="mouth-linear",
    filename="mouth_calibration.json",
    sha256="59fee6c8045dabb6b828096cb8005cafe165252a8594de252411d3ef601bf847",
    size=2_070,
    description="faceanalytics linear mouth models: smile and mouth-open logistic models over the mouth shape, FER-2013",
    shipped=True,
)

#: The landmark model ``Pipeline()`` uses when none is named.
DEFAULT_LANDMARK_MODEL = "fpenet68"
