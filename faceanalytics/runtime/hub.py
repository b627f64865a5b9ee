"""Finding model files: explicit path, then the package, then the cache ``$FACEANALYTICS_HOME``, then download.

Every registered model ships inside the package (``faceanalytics/weights/``: the landmark and
mouth-cue networks we train, and MediaPipe's BlazeFace detector files under their Apache-2.0
licence), so a fresh install works offline. The cache and downloads serve models the package
lacks (a stripped or repackaged install, or registered models declared with a ``url`` only).

The cache defaults to ``~/.cache/faceanalytics``. Downloads go over HTTPS (plain HTTP only to
this machine, for tests; redirects are held to the same rule), with a timeout per read and for the
whole transfer, the declared size as a cap, a progress bar on stderr, the declared sha256 checked
before the file is renamed into place, and a partial file never left where it could be used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from http.client import HTTPMessage
from importlib import resources
from pathlib import Path
from typing import IO

from faceanalytics.core.errors import ChecksumError, DownloadError, ModelNotFoundError
from faceanalytics.runtime.atomic import AtomicFile
from faceanalytics.runtime.registry import (
    DETECTOR_MODELS,
    EXPRESSION_MODELS,
    EYE_MODELS,
    LANDMARK_MODELS,
    MOUTH_MODELS,
    ModelSpec,
)

__all__ = [
    "download",
    "expression_model_path",
    "eye_model_path",
    "home",
    "landmark_model_path",
    "mouth_model_path",
    "package_weights_dir",
    "resolve_detector_model",
    "sha256_file",
    "shipped_path",
]

logger = logging.getLogger("faceanalytics")

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def home() -> Path:
    """The model cache: ``$FACEANALYTICS_HOME`` or ``~/.cache/faceanalytics``."""
    env = os.environ.get("FACEANALYTICS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "faceanalytics"


def package_weights_dir() -> Path:
    """Folder of the landmark models shipped inside the package."""
    return Path(str(resources.files("faceanalytics"))) / "weights"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        return
    raise DownloadError(f"refusing to download over {parts.scheme or 'no scheme'}: {url} (HTTPS only)")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL that passes :func:`_check_url` (no HTTPS -> HTTP downgrade)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_CheckedRedirects)


def download(
    url: str,
    dest: Path,
    sha256: str,
    *,
    timeout: float = 30.0,
    size: int | None = None,
    total_timeout: float = 600.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The body goes to a temporary file beside ``dest``; only when its sha256 equals ``sha256`` is
    it renamed to ``dest``. On any failure the temporary file is removed and ``dest`` is untouched.

    Args:
        timeout: seconds any one connect or read may wait.
        size: expected bytes; a body announced or found to be larger is refused as it arrives.
        total_timeout: seconds the whole download may take (a server that trickles bytes ends too).

    Raises:
        DownloadError: refused URL (also after a redirect), network failure, HTTP error, timeout,
            or a body larger than ``size``.
        ChecksumError: the body's digest differs from ``sha256``.
    """
    _check_url(url)
    dest = Path(dest)
    by_hand = f"Without network access, fetch the file elsewhere and place it at {dest} (sha256 {sha256})"
    with AtomicFile(dest) as tmp:
        h = hashlib.sha256()
        received = 0
        deadline = time.monotonic() + total_timeout
        with tmp.open("wb") as out:
            try:
                with _opener.open(url, timeout=timeout) as resp:
                    total = int(resp.headers.get("Content-Length") or 0) or None
                    if size is not None and total is not None and total > size:
                        raise DownloadError(f"{url} announces {total} bytes, expected {size}; refused")
                    bar = _progress_bar(total, dest.name, progress)
                    try:
                        while chunk := resp.read1(1 << 16):  # what has arrived: the deadline holds
                            received += len(chunk)
                            if size is not None and received > size:
                                raise DownloadError(f"{url} sent more than the expected {size} bytes; refused")
                            if time.monotonic() > deadline:
                                raise DownloadError(f"download of {url} took longer than {total_timeout:.0f} s. {by_hand}")
                            out.write(chunk)
                            h.update(chunk)
                            bar.update(len(chunk))
                    finally:
                        bar.close()
                    if total is not None and received < total:
                        raise DownloadError(f"connection to {url} closed after {received} of {total} bytes. {by_hand}")
            except DownloadError:
                raise
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DownloadError(f"cannot download {url}: {exc}. {by_hand}") from exc
        digest = h.hexdigest()
        if digest != sha256:
            raise ChecksumError(f"download of {url} has sha256 {digest}, expected {sha256}; the file was discarded")
    logger.info("downloaded %s to %s", url, dest)
    return dest


def _progress_bar(total: int | None, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=None if enabled else True, leave=False
    )


def resolve_detector_model(
    name: str, path: str | os.PathLike | None = None, *, allow_download: bool = True, progress: bool = True
) -> Path:
    """The file of detector model ``name`` ("short" or "full").

    Order: ``path`` if given (must exist; not checksummed, so users can bring their own file),
    then the copy shipped in the package, then ``home() / spec.filename``, then a download into
    ``home()`` (the last two checksummed, and only when the package lacks the file).

    Raises:
        ModelNotFoundError: unknown name, missing explicit path, or neither shipped nor cached with downloads off.
        ChecksumError: a shipped or cached file with the wrong digest.
        DownloadError: the download failed.
    """
    if path is not None:
        p = Path(path).expanduser()
        try:
            is_file = p.is_file()
        except OSError as exc:  # e.g. a name too long for the file system
            raise ModelNotFoundError(f"not a usable detector model path: {str(p)[:200]}: {exc.strerror or exc}") from None
        if not is_file:
            raise ModelNotFoundError(f"detector model file not found (or not a file): {p}")
        return p
    try:
        spec = DETECTOR_MODELS[name]
    except KeyError:
        raise ModelNotFoundError(f"unknown detector model {name!r}; known: {', '.join(DETECTOR_MODELS)}") from None
    shipped = shipped_path(spec)
    if shipped is not None:
        return shipped
    return fetch(spec, home(), allow_download=allow_download, progress=progress)


def shipped_path(spec: ModelSpec) -> Path | None:
    """The package's own copy of ``spec``'s file, verified; ``None`` when the package lacks it.

    Raises:
        ChecksumError: the shipped file's digest differs from the registry (a damaged install).
    """
    if not spec.shipped:
        return None
    path = package_weights_dir() / spec.filename
    if not path.is_file():
        logger.debug("model %s is not in the package (%s); looking in the cache", spec.name, path)
        return None
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise ChecksumError(f"{path} has sha256 {digest}, expected {spec.sha256}; reinstall faceanalytics")
    return path


def fetch(spec: ModelSpec, cache: Path, *, allow_download: bool = True, progress: bool = True) -> Path:
    """``cache / spec.filename``, verified, downloading it from ``spec.url`` when absent."""
    target = Path(cache) / spec.filename
    if target.is_file():
        digest = sha256_file(target)
        if digest != spec.sha256:
            raise ChecksumError(
                f"{target} has sha256 {digest}, expected {spec.sha256} for model {spec.name!r}; delete it "
                "and run `faceanalytics download-models`, or place the right file there"
            )
        return target
    if not allow_download or spec.url is None:
        raise ModelNotFoundError(
            f"model {spec.name!r} is not in {cache} ({spec.filename}); run `faceanalytics download-models` "
            "or set FACEANALYTICS_HOME to a folder that holds it"
        )
    logger.info("model %s not cached; downloading %s (%d bytes) to %s", spec.name, spec.url, spec.size, target)
    return download(spec.url, target, spec.sha256, size=spec.size, progress=progress)


def landmark_model_path(name: str) -> tuple[Path, ModelSpec]:
    """The shipped file of registered landmark model ``name``, verified against its sha256.

    Raises:
        ModelNotFoundError: no such registered model, or its file is missing from the package.
        ChecksumError: the file's digest differs from the registry.
    """
    return _shipped(LANDMARK_MODELS, name, "landmark")


def eye_model_path(name: str) -> tuple[Path, ModelSpec]:
    """The shipped file of registered eye-openness model ``name``, verified like :func:`landmark_model_path`."""
    return _shipped(EYE_MODELS, name, "eye-openness")


def expression_model_path(name: str) -> tuple[Path, ModelSpec]:
    """The shipped file of registered expression model ``name``, verified like :func:`landmark_model_path`."""
    return _shipped(EXPRESSION_MODELS, name, "expression")


def mouth_model_path(name: str) -> tuple[Path, ModelSpec]:
    """The shipped file of registered mouth-cue model ``name``, verified like :func:`landmark_model_path`."""
    return _shipped(MOUTH_MODELS, name, "mouth-cue")


def _shipped(registry: Mapping[str, ModelSpec], name: str, kind: str) -> tuple[Path, ModelSpec]:
    spec = registry.get(name)
    if spec is None:
        known = ", ".join(registry) or "none"
        raise ModelNotFoundError(f"unknown {kind} model {name!r} (registered: {known}); pass a path to an ONNX file instead")
    path = shipped_path(spec)
    if path is None:
        raise ModelNotFoundError(
            f"{kind} model {name!r} should ship at {package_weights_dir() / spec.filename} but is missing; "
            "reinstall faceanalytics"
        )
    return path, spec
