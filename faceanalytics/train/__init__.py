"""Training of the bundled FPENet-68 landmark model (optional extra ``faceanalytics[train]``).

``python -m faceanalytics.train --data DIR --out models/`` trains a recombinator network on
68-point annotations and exports it to the FPENet ONNX contract (see :mod:`.export`);
``python -m faceanalytics.train.evaluate --model PATH`` measures it. Modules:

- :mod:`.data`: annotation readers (CSV, iBUG ``.pts`` folders) and the by-identity split.
- :mod:`.boxes`: BlazeFace box statistics relative to landmarks, and box sampling.
- :mod:`.augment`: geometric and photometric augmentation of 80x80 crops.
- :mod:`.eyes`: pseudo-labelled closed-eye (and open-eye) faces.
- :mod:`.model`: the torch recombinator network with soft-argmax.
- :mod:`.losses`: L1, L2 and Wing losses with region weights.
- :mod:`.export`: ONNX export following the FPENet contract.
- :mod:`.loop`: the training loop, checkpoints and resume.
- :mod:`.synthetic_ear`, :mod:`.long_run`, :mod:`.point_views`: the synthetic EAR traces, the long
  stream's scene and the point-confidence views that benchmarks and tests share (no torch).
"""
