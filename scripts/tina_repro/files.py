"""Reading and writing the workflow's JSON, JSONL and checksums, one way everywhere.

Writers are atomic (a temporary file, then ``os.replace``): a killed job never leaves half a file
behind that a rerun would take for a finished one. Readers name the file and line of a bad row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, data: object) -> Path:
    return write_text(path, dumps(data) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def jsonl_line(row: object) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_jsonl(path: str | Path, rows: Iterable[object]) -> Path:
    """Write one JSON object per line atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(jsonl_line(row))
    os.replace(tmp, path)
    return path


def append_jsonl(path: str | Path, rows: Iterable[object]) -> None:
    """Append rows and flush them to disk (what a resumed job keeps)."""
    with Path(path).open("a", encoding="utf-8") as out:
        for row in rows:
            out.write(jsonl_line(row))
        out.flush()
        os.fsync(out.fileno())


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict]:
    """The rows of a JSONL file; blank lines are skipped. A bad line, or a row without one of
    ``required``, raises ``ValueError`` naming the file and line."""
    rows, required = [], tuple(required)
    with Path(path).open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                raise ValueError(f"{path} line {number}: not UTF-8") from None
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {number}: invalid JSON ({err.msg})") from None
            missing = [key for key in required if not isinstance(row, dict) or key not in row]
            if missing:
                raise ValueError(f"{path} line {number}: missing key(s) {', '.join(missing)}")
            rows.append(row)
    return rows


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
