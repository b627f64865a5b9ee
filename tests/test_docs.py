"""Every code block in README.md and docs/*.md runs as written.

The rule, by the language of each fenced block:

- ``python``: run. The python blocks of one file run in document order in one namespace, as one
  script would (``__name__ == "__main__"``), so a block may use what an earlier block of the same
  file defined.
- ``bash``: every command runs, except two kinds excluded here by rule (lines joined at a trailing
  backslash, split into commands at ``&&``, ``||`` and ``;``, comments dropped):

  * **setting up an environment**: ``python3 -m venv``, activating one (``. .venv/bin/activate``,
    ``source``), ``pip install`` / ``pip uninstall`` (also ``python -m pip``). They need the network
    and would change the environment the tests run in.
  * **the project's own checks**: ``pytest``, ``ruff``, ``mypy``, ``python benchmarks/...``. CI runs them
    itself; from inside the suite they would recurse, and the benchmarks take minutes.

  Every other command must be a ``faceanalytics`` command (the console script, or
  ``python -m faceanalytics``, both the interpreter running the tests). It runs in bash, so
  redirections and globs work as in a reader's shell, and must exit with code 0. A command of any
  other kind fails the test: make it runnable, or fence the block as ``text`` and say why.
- any other language (``text``, ``json``, ``yaml``, ``dockerfile``, ...): shown, never run. A
  block without a language fails :func:`test_every_block_has_a_language`.

Each file runs in a fresh temporary working directory, its bash and python blocks in document
order, like a reader going down the page. The directory holds the sample files the docs name:

- ``photo.jpg``: 640x480, a face of ``../shared/data/landmarks68`` upscaled twice on a gray field;
- ``drive.mp4``: 2 s of 640x480 video at 15 fps made of such frames;
- ``drives/drive_1.mp4`` (a copy), ``photos/photo_1.jpg`` and ``photos/photo_2.jpg`` (two faces);
- ``clips.txt`` and ``more.txt``: manifests for ``faceanalytics batch`` (``drive.mp4``; ``photos/``);
- ``model.onnx``: the bundled FPENet-68, standing in for a model downloaded from NVIDIA's NGC.

Without ``../shared`` (the faces and the BlazeFace weights) the runs skip. A failure names the
file and the line of the block (python tracebacks point at the line in the Markdown file).
"""

from __future__ import annotations

import linecache
import os
import re
import shlex
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, shared_path

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN, SETUP, CHECK = "run", "setup", "check"
_PYTHONS = {"python", "python3", sys.executable}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the first line of the block's body
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (``` or ~~~ fences, indented ones too)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        m = re.match(r"^([ \t]*)(`{3,}|~{3,})(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.groups()
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body, i = [], i + 1
        start = i + 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        found.append(Block(path, start, (info.split() or [""])[0].lower(), "\n".join(body)))
        i += 1
    return found


def bash_commands(text: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, split at ``&&``, ``||`` and ``;``
    outside quotes, comments dropped. A pipeline stays one command."""
    commands = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        cur, quote, i = "", None, 0
        while i < len(line):
            c = line[i]
            if quote:
                cur += c
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote, cur = c, cur + c
            elif c == "\\" and i + 1 < len(line):
                cur, i = cur + line[i : i + 2], i + 1
            elif c == "#" and (not cur or cur[-1].isspace()):
                break
            elif line.startswith(("&&", "||"), i):
                commands.append(cur)
                cur, i = "", i + 1
            elif c == ";":
                commands.append(cur)
                cur = ""
            else:
                cur += c
            i += 1
        commands.append(cur)
    return [c.strip() for c in commands if c.strip()]


def classify(command: str) -> str | None:
    """RUN, SETUP or CHECK (see the module docstring); ``None`` for a command of no known kind."""
    words = shlex.split(command)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):  # VAR=value prefixes
        words = words[1:]
    if not words:
        return None
    head, rest = words[0], words[1:]
    python = head in _PYTHONS
    if head == "faceanalytics" or (python and rest[:2] == ["-m", "faceanalytics"]):
        return RUN
    if (
        (python and rest[:2] == ["-m", "venv"])
        or (head in (".", "source") and rest[:1] and rest[0].endswith("activate"))
        or (head in ("pip", "pip3") and rest[:1] in (["install"], ["uninstall"]))
        or (python and rest[:2] == ["-m", "pip"] and rest[2:3] in (["install"], ["uninstall"]))
    ):
        return SETUP
    benchmark = bool(rest) and rest[0].startswith("benchmarks/")
    if head in ("pytest", "ruff", "mypy") or (python and (rest[:2] == ["-m", "pytest"] or benchmark)):
        return CHECK
    return None


# --- checks that need nothing but the Markdown ------------------------------------------------


def test_every_block_has_a_language():
    """A fence without a language is ambiguous: ``python``/``bash`` run, everything else is text."""
    bare = [b.where for path in DOCS for b in blocks(path) if not b.lang]
    assert not bare, f"fence these blocks as python or bash (run) or text, json, ... (not run): {bare}"


def test_every_bash_command_is_of_a_known_kind():
    unknown = [
        f"{b.where}: {c}"
        for path in DOCS
        for b in blocks(path)
        if b.lang == "bash"
        for c in bash_commands(b.text)
        if classify(c) is None
    ]
    assert not unknown, "commands that are neither faceanalytics, set-up nor the project's checks: " + "; ".join(unknown)


def test_checks_name_files_that_exist():
    """The project's checks are not run here, but the test files and benchmarks they name exist."""
    missing = [
        f"{b.where}: {word}"
        for path in DOCS
        for b in blocks(path)
        if b.lang == "bash"
        for c in bash_commands(b.text)
        if classify(c) == CHECK
        for word in shlex.split(c)
        if re.match(r"^(tests|benchmarks)/\S+\.py$", word) and not (REPO / word).is_file()
    ]
    assert not missing, f"files named in the docs' check commands that do not exist: {missing}"


def test_the_rules_themselves():
    assert bash_commands("python3 -m venv .venv && . .venv/bin/activate && pip install . && faceanalytics detect a.jpg") == [
        "python3 -m venv .venv",
        ". .venv/bin/activate",
        "pip install .",
        "faceanalytics detect a.jpg",
    ]
    assert bash_commands("faceanalytics batch 'a;b' \\\n  --output x  # a comment; not a command") == [
        "faceanalytics batch 'a;b'    --output x"
    ]
    assert [classify(c) for c in ("faceanalytics info", "X=1 python -m faceanalytics info", "pip install '.[test]'")] == [
        RUN,
        RUN,
        SETUP,
    ]
    assert [classify(c) for c in ("FACEANALYTICS_HOME=x python benchmarks/long_run.py", "ruff check .", "ls")] == [
        CHECK,
        CHECK,
        None,
    ]


def test_blocks_are_found_with_their_language_and_line(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("# t\n\n```python\nx = 1\n```\n\n- item:\n\n  ```bash title\n  faceanalytics info\n  ```\n\n```\nplain\n```\n")
    found = blocks(md)
    assert [(b.line, b.lang, b.text) for b in found] == [
        (4, "python", "x = 1"),
        (10, "bash", "faceanalytics info"),
        (14, "", "plain"),
    ]


# --- running the blocks ---------------------------------------------------------------------


def _frame(path: Path) -> np.ndarray:
    """A face image upscaled twice, centred on a 640x480 gray field."""
    face = cv2.imread(str(path))
    face = cv2.resize(face, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)[:480, :640]
    h, w = face.shape[:2]
    frame = np.full((480, 640, 3), 96, np.uint8)
    y, x = (480 - h) // 2, (640 - w) // 2
    frame[y : y + h, x : x + w] = face
    return frame


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory, detector_home: Path) -> Path:
    """The sample files the docs name (see the module docstring)."""
    images = sorted(shared_path("data", "landmarks68", "images").glob("*.jpg"))
    if len(images) < 2:
        pytest.skip("needs the face images of ../shared/data/landmarks68")
    model = REPO / "faceanalytics" / "weights" / "fpenet68.onnx"
    if not model.is_file():
        pytest.skip(f"needs the bundled landmark model {model}")
    root = tmp_path_factory.mktemp("doc_samples")
    person = [p for p in images if p.name.rsplit("_", 1)[0] == images[0].name.rsplit("_", 1)[0]]
    cv2.imwrite(str(root / "photo.jpg"), _frame(images[0]))
    writer = cv2.VideoWriter(str(root / "drive.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    try:
        for i in range(30):
            writer.write(_frame(person[(i // 5) % len(person)]))
    finally:
        writer.release()
    (root / "drives").mkdir()
    shutil.copy(root / "drive.mp4", root / "drives" / "drive_1.mp4")
    (root / "photos").mkdir()
    cv2.imwrite(str(root / "photos" / "photo_1.jpg"), _frame(images[0]))
    cv2.imwrite(str(root / "photos" / "photo_2.jpg"), _frame(images[-1]))
    (root / "clips.txt").write_text("drive.mp4\n")
    (root / "more.txt").write_text("photos/\n")
    shutil.copy(model, root / "model.onnx")
    return root


@pytest.fixture(scope="module")
def shims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``faceanalytics``, ``python`` and ``python3`` for bash blocks: this interpreter and this code."""
    bin_dir = tmp_path_factory.mktemp("doc_bin")
    for name, cmd in (("faceanalytics", "-m faceanalytics "), ("python", ""), ("python3", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {cmd}"$@"\n')
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _run_bash(block: Block, cwd: Path, env: dict[str, str]) -> None:
    for command in bash_commands(block.text):
        kind = classify(command)
        if kind is None:
            pytest.fail(f"{block.where}: bash command of no known kind (see tests/test_docs.py): {command}", pytrace=False)
        if kind != RUN:
            continue
        proc = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command}"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"{block.where}: `{command}` exited with {proc.returncode}\n"
                f"--- stdout (end)\n{proc.stdout[-2000:]}\n--- stderr (end)\n{proc.stderr[-4000:]}",
                pytrace=False,
            )


def _run_python(block: Block, namespace: dict) -> None:
    filename = str(block.path)
    linecache.checkcache(filename)
    error = None
    try:
        # Blank lines in front, so that tracebacks give the lines of the Markdown file.
        code = compile("\n" * (block.line - 1) + block.text + "\n", filename, "exec")
        exec(code, namespace)  # running the documentation is the point
    except (Exception, SystemExit):  # any failure, SyntaxError included, reported with the block
        error = traceback.format_exc()
    if error is not None:
        pytest.fail(f"{block.where}: python block failed\n{error}", pytrace=False)


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_doc_blocks_run(doc: Path, samples: Path, shims: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    runnable = [b for b in blocks(doc) if b.lang in ("python", "bash")]
    if not runnable:
        return
    work = tmp_path / "work"
    shutil.copytree(samples, work)
    monkeypatch.chdir(work)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"}
    namespace: dict = {"__name__": "__main__"}
    try:
        for block in runnable:
            if block.lang == "bash":
                _run_bash(block, work, env)
            else:
                _run_python(block, namespace)
    finally:
        namespace.clear()
