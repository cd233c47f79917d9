"""Reading and writing the workflow's JSON, JSONL and checksums, one way everywhere.

Writers are atomic (a temporary file, then ``os.replace``): a killed job never leaves half a file
behind that a rerun would take for a finished one, and a failed write removes its temporary file.
A full disk (or quota, or file-size limit) is one line naming the file (:class:`DiskFullError`).
Readers name the file, line and column of a bad row (:class:`BadInputError`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tina_repro.errors import NO_ROOM, UserError


class BadInputError(UserError, ValueError):
    """Input the workflow cannot take (an undecodable or malformed line, a bad row, no rows at
    all); the message names the file and line."""


class DiskFullError(UserError, OSError):
    """No room to write a file; the message names it (OSError's own names no file on write)."""


@contextmanager
def room_to_write(path: str | Path) -> Iterator[None]:
    """Turn "no room" while writing ``path`` into a :class:`DiskFullError` naming it."""
    try:
        yield
    except OSError as error:
        if error.errno not in NO_ROOM or isinstance(error, DiskFullError):
            raise
        full = DiskFullError(f"cannot write {path}: {error.strerror} (make room and rerun)")
        full.errno = error.errno
        raise full from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; it replaces ``path`` once the block completes,
    and is removed if the block fails, so ``path`` is either the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with room_to_write(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def utf8_position(data: bytes, error: UnicodeDecodeError) -> str:
    """``line L column C: byte 0xNN is not UTF-8`` for a decode ``error`` of ``data`` (line and
    column 1-based, the column counted in characters as an editor shows it)."""
    start = data.rfind(b"\n", 0, error.start) + 1
    line = data.count(b"\n", 0, error.start) + 1
    column = len(data[start : error.start].decode("utf-8", errors="replace")) + 1
    return f"line {line} column {column}: byte 0x{data[error.start]:02x} is not UTF-8"


def _jsonable(value: object) -> object:
    """json.dumps fallback for what configs hold: sets (sorted), dtypes and paths (as text)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def dumps(data: object, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False, default=_jsonable)


def roundtrip(data: object) -> object:
    """The value as it reads back from JSON (lists for tuples, strings for dtypes)."""
    return json.loads(json.dumps(data, default=_jsonable))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, creating its folder."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: object) -> Path:
    return write_text(path, dumps(data) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def jsonl_line(row: object) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_jsonl(path: str | Path, rows: Iterable[object]) -> Path:
    """Write one JSON object per line atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(jsonl_line(row))
    return Path(path)


def append_jsonl(path: str | Path, rows: Iterable[object]) -> None:
    """Append rows and flush them to disk (what a resumed job keeps)."""
    with room_to_write(path), Path(path).open("a", encoding="utf-8") as out:
        for row in rows:
            out.write(jsonl_line(row))
        out.flush()
        os.fsync(out.fileno())


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict]:
    """The rows of a JSONL file; blank lines are skipped. A bad line, or a row without one of
    ``required``, raises :class:`BadInputError` naming the file and line."""
    rows, required = [], tuple(required)
    with Path(path).open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json_line(line, f"{path} line {number}")
            missing = [key for key in required if not isinstance(row, dict) or key not in row]
            if missing:
                raise BadInputError(f"{path} line {number}: missing key(s) {', '.join(missing)}")
            rows.append(row)
    return rows


def json_line(line: bytes, where: str) -> Any:
    """One JSONL line parsed; undecodable bytes or bad JSON raise :class:`BadInputError` naming
    ``where`` (``FILE line N``) and the column."""
    try:
        return json.loads(line.decode("utf-8").rstrip("\r\n"))
    except UnicodeDecodeError as err:
        position = utf8_position(line, err).removeprefix("line 1 ")
        raise BadInputError(f"{where} {position}") from None
    except json.JSONDecodeError as err:
        raise BadInputError(f"{where} column {err.colno}: invalid JSON ({err.msg})") from None


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
