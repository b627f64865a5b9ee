"""Model files: cache lookup and the downloader, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import shutil
import socket
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from conftest import shared_path

from faceanalytics import ChecksumError, DownloadError, ModelNotFoundError
from faceanalytics.runtime import hub
from faceanalytics.runtime.hub import download, fetch, home, resolve_detector_model, sha256_file
from faceanalytics.runtime.registry import DETECTOR_MODELS


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve(tmp_path: Path):
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1 for that folder."""
    servers = []

    def start(folder: Path) -> str:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "www"
    folder.mkdir()
    data = bytes(range(256)) * 2000
    (folder / "model.bin").write_bytes(data)
    return folder, hashlib.sha256(data).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_writes_atomically_with_checksum(serve, payload, tmp_path):
    folder, digest = payload
    url = serve(folder) + "/model.bin"
    dest = tmp_path / "cache" / "model.bin"
    assert download(url, dest, digest, progress=False) == dest
    assert sha256_file(dest) == digest
    assert _leftovers(dest.parent) == ["model.bin"]  # no .part file


def test_wrong_checksum_leaves_nothing(serve, payload, tmp_path):
    folder, _ = payload
    dest = tmp_path / "cache" / "model.bin"
    with pytest.raises(ChecksumError, match="expected 0000"):
        download(serve(folder) + "/model.bin", dest, "0" * 64, progress=False)
    assert _leftovers(dest.parent) == []


def test_http_errors_and_refused_urls(serve, payload, tmp_path):
    folder, digest = payload
    dest = tmp_path / "cache" / "model.bin"
    with pytest.raises(DownloadError, match="404") as info:
        download(serve(folder) + "/missing.bin", dest, digest, progress=False)
    assert str(dest) in str(info.value)  # says where to place the file by hand
    assert _leftovers(dest.parent) == []
    for url in ("http://example.com/model.bin", "ftp://127.0.0.1/model.bin", "file:///etc/passwd"):
        with pytest.raises(DownloadError, match="HTTPS only"):
            download(url, dest, digest, progress=False)


def test_a_server_that_never_answers_times_out(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        with pytest.raises(DownloadError, match="timed out"):
            download(f"http://127.0.0.1:{sock.getsockname()[1]}/x", tmp_path / "x", "0" * 64, timeout=0.5, progress=False)
    finally:
        sock.close()
    assert _leftovers(tmp_path) == []


def test_fetch_downloads_once_then_uses_the_cache(serve, payload, tmp_path):
    folder, digest = payload
    size = (folder / "model.bin").stat().st_size
    spec = replace(DETECTOR_MODELS["short"], filename="model.bin", sha256=digest, size=size, url=serve(folder) + "/model.bin")
    cache = tmp_path / "cache"
    path = fetch(spec, cache, progress=False)
    assert path == cache / "model.bin"
    (folder / "model.bin").unlink()  # the server no longer has it: the cache must answer
    assert fetch(spec, cache, progress=False) == path


def test_fetch_refuses_a_corrupt_cached_file(tmp_path):
    spec = DETECTOR_MODELS["short"]
    (tmp_path / spec.filename).write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match=spec.filename) as info:
        fetch(spec, tmp_path, allow_download=False)
    assert "download-models" in str(info.value)


def test_the_detector_weights_ship_with_the_package(tmp_path, monkeypatch):
    """A fresh, offline install: empty cache, no downloads, and both BlazeFace files are found,
    inside the package, with their licence beside them."""
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path / "empty"))
    for name, spec in DETECTOR_MODELS.items():
        path = resolve_detector_model(name, allow_download=False)
        assert path == hub.package_weights_dir() / spec.filename
        assert sha256_file(path) == spec.sha256 and path.stat().st_size == spec.size
        assert spec.shipped and "Apache-2.0" in spec.source
    licence = hub.package_weights_dir() / "LICENSE-BlazeFace.txt"
    assert "Apache License" in licence.read_text() and "Version 2.0" in licence.read_text()
    assert not (tmp_path / "empty").exists()  # nothing was written to the cache


def test_a_damaged_shipped_file_is_refused(tmp_path, monkeypatch):
    spec = DETECTOR_MODELS["short"]
    (tmp_path / spec.filename).write_bytes(b"garbage")
    monkeypatch.setattr(hub, "package_weights_dir", lambda: tmp_path)
    with pytest.raises(ChecksumError, match="reinstall"):
        resolve_detector_model("short", allow_download=False)


@pytest.fixture
def no_shipped_weights(tmp_path, monkeypatch):
    """A package without the detector files (a stripped repackaging): the cache and downloads serve."""
    empty = tmp_path / "package_models"
    empty.mkdir()
    monkeypatch.setattr(hub, "package_weights_dir", lambda: empty)


def test_missing_without_downloads_says_how_to_fix(tmp_path, monkeypatch, no_shipped_weights):
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="download-models"):
        resolve_detector_model("short", allow_download=False)
    with pytest.raises(ModelNotFoundError, match="unknown detector model"):
        resolve_detector_model("medium")
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_detector_model("short", tmp_path / "nope.tflite")


def test_home_defaults_to_the_user_cache(monkeypatch):
    monkeypatch.delenv("FACEANALYTICS_HOME", raising=False)
    assert home() == Path.home() / ".cache" / "faceanalytics"
    monkeypatch.setenv("FACEANALYTICS_HOME", "~/x")
    assert home() == Path.home() / "x"


@pytest.mark.parametrize("name", ["short", "full"])
def test_real_blazeface_files_download_and_are_found(serve, tmp_path, monkeypatch, name, no_shipped_weights):
    """The registry's digests match the real MediaPipe files: served from ../shared/models on
    127.0.0.1, downloaded into an empty cache, then found there by name."""
    spec = DETECTOR_MODELS[name]
    src = shared_path("models", spec.filename)
    assert src.stat().st_size == spec.size
    local = replace(spec, url=serve(src.parent) + "/" + spec.filename)
    cache = tmp_path / "home"
    assert fetch(local, cache, progress=False) == cache / spec.filename
    monkeypatch.setenv("FACEANALYTICS_HOME", str(cache))
    assert resolve_detector_model(name, allow_download=False) == cache / spec.filename


def test_files_placed_by_hand_in_the_cache_are_found(tmp_path, monkeypatch, no_shipped_weights):
    for spec in DETECTOR_MODELS.values():
        shutil.copy(shared_path("models", spec.filename), tmp_path / spec.filename)
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path))
    for name, spec in DETECTOR_MODELS.items():
        assert resolve_detector_model(name, allow_download=False) == tmp_path / spec.filename


# --- hostile and broken servers (issue 7) ---------------------------------------------------------


@pytest.fixture
def raw_server():
    """raw_server(respond) -> base URL of a one-thread server on 127.0.0.1 that reads each request
    and lets ``respond(conn)`` write whatever bytes it likes."""
    socks = []

    def start(respond) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        socks.append(sock)

        def loop() -> None:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    with contextlib.suppress(OSError):
                        respond(conn)

        threading.Thread(target=loop, daemon=True).start()
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for sock in socks:
        sock.close()


def _redirect_to(location: str):
    def respond(conn) -> None:
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    return respond


def test_redirects_are_held_to_https_only(raw_server, serve, payload, tmp_path):
    folder, digest = payload
    dest = tmp_path / "cache" / "model.bin"
    for target in ("http://example.com/model.bin", "ftp://example.com/model.bin", "file:///etc/passwd"):
        with pytest.raises(DownloadError, match=r"HTTPS only|not allowed"):  # urllib itself refuses file://
            download(raw_server(_redirect_to(target)) + "/model.bin", dest, digest, progress=False)
        assert _leftovers(dest.parent) == []
    # A redirect to an allowed URL is followed.
    good = serve(folder) + "/model.bin"
    assert download(raw_server(_redirect_to(good)) + "/x", dest, digest, progress=False) == dest


def test_a_body_larger_than_declared_is_refused(serve, payload, tmp_path):
    folder, digest = payload
    dest = tmp_path / "cache" / "model.bin"
    with pytest.raises(DownloadError, match="512000 bytes, expected 1000"):
        download(serve(folder) + "/model.bin", dest, digest, size=1000, progress=False)
    assert _leftovers(dest.parent) == []


def test_an_endless_body_without_length_is_cut_at_the_declared_size(raw_server, tmp_path):
    def endless(conn) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        for _ in range(1000):
            conn.sendall(b"x" * 4096)

    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError, match="more than the expected 100000 bytes"):
        download(raw_server(endless) + "/m", dest, "0" * 64, size=100_000, progress=False)
    assert _leftovers(tmp_path) == []


def test_a_trickling_server_hits_the_total_timeout(raw_server, tmp_path):
    import time

    def trickle(conn) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"x")
            time.sleep(0.05)

    with pytest.raises(DownloadError, match="took longer than"):
        download(raw_server(trickle) + "/m", tmp_path / "m.bin", "0" * 64, total_timeout=0.3, progress=False)
    assert _leftovers(tmp_path) == []


def test_a_connection_cut_mid_body_leaves_nothing(raw_server, tmp_path):
    def cut(conn) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)

    with pytest.raises(DownloadError, match=r"after 5000 of 100000 bytes.*place it at"):
        download(raw_server(cut) + "/m", tmp_path / "m.bin", "0" * 64, progress=False)
    assert _leftovers(tmp_path) == []


def test_offline_says_how_to_place_the_file_by_hand(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused, as offline
    spec = replace(DETECTOR_MODELS["short"], url=f"http://127.0.0.1:{port}/{DETECTOR_MODELS['short'].filename}")
    with pytest.raises(DownloadError) as info:
        fetch(spec, tmp_path / "cache", progress=False)
    msg = str(info.value)
    assert f"place it at {tmp_path / 'cache' / spec.filename}" in msg and spec.sha256 in msg
    assert _leftovers(tmp_path / "cache") == []


def test_a_partial_file_left_by_a_killed_download_is_never_used(serve, payload, tmp_path):
    folder, digest = payload
    cache = tmp_path / "cache"
    cache.mkdir()
    size = (folder / "model.bin").stat().st_size
    stale = cache / ".model.bin.k1ll3d.part.bin"  # what AtomicFile leaves when the process dies
    stale.write_bytes((folder / "model.bin").read_bytes()[:1000])
    spec = replace(DETECTOR_MODELS["short"], filename="model.bin", sha256=digest, size=size, url=serve(folder) + "/model.bin")
    with pytest.raises(ModelNotFoundError):
        fetch(spec, cache, allow_download=False)
    assert sha256_file(fetch(spec, cache, progress=False)) == digest
