"""Keep the model data declared in the source in step with rebuilt model files.

Three kinds of declared data follow the files in ``faceanalytics/weights/``:

* each shipped :class:`~faceanalytics.runtime.registry.ModelSpec`'s ``sha256`` and ``size``
  (``faceanalytics/runtime/registry.py``; checked at load time);
* the point-confidence calibrations (``CALIBRATIONS`` in ``faceanalytics/runners/point_confidence.py``),
  fitted and written by ``python benchmarks/point_confidence.py --write``;
* ``DEFAULT_OPENNESS_THRESHOLD`` in ``faceanalytics/plugins/eyes.py``, which equals the
  ``openness_threshold`` metadata that ``python -m faceanalytics.train.eye_openness`` writes into the
  eye-openness file.

Usage::

    python -m faceanalytics.train.register             # rewrite whatever is out of step
    python -m faceanalytics.train.register --check     # list it and exit 1; write nothing

``python -m faceanalytics.train.release`` runs this after each step of a rebuild.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from faceanalytics.runners.point_confidence import PointCalibration
from faceanalytics.runtime.hub import package_weights_dir, sha256_file
from faceanalytics.runtime.registry import (
    DETECTOR_MODELS,
    EXPRESSION_MODELS,
    EYE_MODELS,
    LANDMARK_MODELS,
    MOUTH_LINEAR_MODEL,
    MOUTH_MODELS,
    ModelSpec,
)

__all__ = [
    "Change", "eye_threshold_in_file", "pending_changes", "set_calibrations", "set_digest", "set_threshold", "shipped_specs",
]  # fmt: skip

PACKAGE = Path(__file__).resolve().parents[1]
REGISTRY_SOURCE = PACKAGE / "runtime" / "registry.py"
CALIBRATION_SOURCE = PACKAGE / "runners" / "point_confidence.py"
EYES_SOURCE = PACKAGE / "plugins" / "eyes.py"


class SourceEditError(ValueError):
    """The declaration to rewrite is not in the source exactly once (edit it by hand)."""


def _replace_once(pattern: str, repl: str, source: str, what: str) -> str:
    out, n = re.subn(pattern, repl, source, flags=re.MULTILINE)
    if n != 1:
        raise SourceEditError(f"{what}: expected one declaration in the source, found {n}")
    return out


def set_digest(source: str, name: str, sha256: str, size: int) -> str:
    """``registry.py`` source with model ``name``'s ``sha256=`` and ``size=`` replaced."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or size < 0:
        raise ValueError(f"not a sha256 and size: {sha256!r}, {size}")
    pattern = (
        rf'(name="{re.escape(name)}",\n(?:(?![^\n]*\bname=)[^\n]*\n)*?\s*sha256=")[0-9a-f]{{64}}'
        r'(",\n\s*size=)[0-9_]+'
    )
    return _replace_once(pattern, rf"\g<1>{sha256}\g<2>{size:_}", source, f"model {name!r}")


def _numbers(values: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


def set_calibrations(source: str, calibrations: Sequence[PointCalibration]) -> str:
    """``point_confidence.py`` source with each model's ``CALIBRATIONS`` entry replaced (4 decimals)."""
    for c in calibrations:
        m = re.escape(c.model)
        pattern = rf'^(    "{m}": PointCalibration\(\n        "{m}", )\([^)]*\), \([^)]*\), [-+0-9.e]+$'
        repl = rf"\g<1>{_numbers(c.intercept)}, {_numbers(c.slope)}, {c.face_slope:.4f}"
        source = _replace_once(pattern, repl, source, f"calibration of {c.model!r}")
    return source


def set_threshold(source: str, value: float) -> str:
    """``eyes.py`` source with ``DEFAULT_OPENNESS_THRESHOLD`` set to ``value`` (two decimals)."""
    if not 0.0 < value < 1.0:
        raise ValueError(f"an openness threshold is in (0, 1); got {value}")
    return _replace_once(
        r"^DEFAULT_OPENNESS_THRESHOLD = [0-9.]+$", f"DEFAULT_OPENNESS_THRESHOLD = {value:.2f}", source, "threshold"
    )


def shipped_specs() -> list[ModelSpec]:
    """Every registered model whose file ships inside the package."""
    registries = (DETECTOR_MODELS, LANDMARK_MODELS, MOUTH_MODELS, EYE_MODELS, EXPRESSION_MODELS)
    specs = [s for r in registries for s in r.values()] + [MOUTH_LINEAR_MODEL]
    return [s for s in specs if s.shipped]


def eye_threshold_in_file(path: Path) -> float:
    """The ``openness_threshold`` metadata of an eye-openness ONNX file."""
    import onnx  # the metadata only: no onnxruntime session to build

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if "openness_threshold" not in meta:
        raise ValueError(f"{path} has no openness_threshold metadata")
    return float(meta["openness_threshold"])


@dataclass(frozen=True)
class Change:
    """One declaration out of step with its file: ``what`` (a model name or ``"threshold"``), the
    declared value and the file's."""

    what: str
    declared: str
    actual: str


def pending_changes(names: Sequence[str] = (), weights: Path | None = None) -> list[Change]:
    """What is out of step: registered digests (of ``names``, default every shipped model) and the
    default eye-openness threshold, against the files in ``weights`` (default: the package's)."""
    weights = package_weights_dir() if weights is None else weights
    specs = {s.name: s for s in shipped_specs()}
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise ValueError(f"not shipped models: {', '.join(unknown)} (shipped: {', '.join(specs)})")
    changes = []
    for name in names or list(specs):
        spec, path = specs[name], weights / specs[name].filename
        actual = f"{sha256_file(path)} {path.stat().st_size}"
        if actual != f"{spec.sha256} {spec.size}":
            changes.append(Change(name, f"{spec.sha256} {spec.size}", actual))
    from faceanalytics.plugins.eyes import DEFAULT_OPENNESS_THRESHOLD

    eye_file = weights / EYE_MODELS["eye-openness"].filename
    threshold = eye_threshold_in_file(eye_file)
    if round(threshold, 2) != DEFAULT_OPENNESS_THRESHOLD:
        changes.append(Change("threshold", f"{DEFAULT_OPENNESS_THRESHOLD:.2f}", f"{threshold:.2f}"))
    return changes


def apply(changes: Sequence[Change]) -> None:
    """Rewrite the sources for ``changes`` (from :func:`pending_changes`)."""
    registry = REGISTRY_SOURCE.read_text()
    for c in changes:
        if c.what == "threshold":
            EYES_SOURCE.write_text(set_threshold(EYES_SOURCE.read_text(), float(c.actual)))
        else:
            sha, size = c.actual.split()
            registry = set_digest(registry, c.what, sha, int(size))
    REGISTRY_SOURCE.write_text(registry)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m faceanalytics.train.register", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="shipped model names (default: all)")
    ap.add_argument("--check", action="store_true", help="list what is out of step and exit 1 if anything is")
    args = ap.parse_args(argv)
    changes = pending_changes(args.names)
    for c in changes:
        print(f"{c.what}: declared {c.declared}, file {c.actual}")  # noqa: T201
    if args.check:
        return 1 if changes else 0
    apply(changes)
    print(f"{len(changes)} declaration(s) rewritten" if changes else "everything is in step")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
