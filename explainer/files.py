"""Files: written so that a crash never leaves half a file (a temporary name, then a rename); JSON read with a
message that says how to make a missing file again, or once per version of the file."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from explainer.errors import ExplainerError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(Path(path)) as temporary:
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")


def read_json(path: Path, remake: str) -> dict:
    """A JSON file we ship or generate; `remake` is the command that writes it, named in the error if it is missing."""
    path = Path(path)
    if not path.is_file():
        raise ExplainerError(f"{path} is missing; make it again with `{remake}`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ExplainerError(f"{path} is not valid JSON ({error}); make it again with `{remake}`") from None


def write_measurement(path: Path, remake: str, digest: str, record: dict) -> None:
    """A measurement of the model whose weights file has this SHA-256, with the command that makes it again."""
    write_json(path, {"made_by": remake, "weights_sha256": digest, **record})


def shipped_measurement(path: Path, remake: str, digest: str | None) -> dict | None:
    """The record `write_measurement` left in `path` when it was measured on the weights with this digest (the shipped
    model), else None: measure now."""
    if digest is None or not Path(path).is_file():
        return None
    shipped = read_json(path, remake)
    if shipped.get("weights_sha256") != digest:
        return None
    return {k: v for k, v in shipped.items() if k not in ("made_by", "weights_sha256")}


FileVersion = tuple[str, int, int, int]  # resolved path, inode, mtime (ns), size


def file_version(path: Path) -> FileVersion:
    """What tells one version of a file from the next: writing it again (atomically: a new inode) changes it."""
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size


_parsed: dict[FileVersion, object] = {}


def parsed_json(path: Path) -> object:
    """`path` parsed once per version of the file and shared by every caller: read the result, never change it.
    Errors are json.loads's (JSONDecodeError, UnicodeDecodeError)."""
    version = file_version(path)
    if version not in _parsed:
        _parsed[version] = json.loads(Path(path).read_text(encoding="utf-8"))
    return _parsed[version]
