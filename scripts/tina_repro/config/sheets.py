"""JSON-schema validation of config documents and of TSV sheets, one line per problem.

Schemas ship with the package (``tina_repro/config/schemas/``, ``additionalProperties: false``),
so a typo such as ``scale_reward`` fails before any job and names the file, the line and the key
(Tina's own Dr.GRPO recipe lost its switch to exactly that typo: docs/paper.md#drgrpo-typo).

TSV cells are strings; they are coerced to the types the schema declares (an empty cell is null
where the schema allows it) before validation, so rows carry Python types. Numbers must be finite:
``nan`` or ``inf`` in a numeric cell is an error, not a value.
"""

from __future__ import annotations

import csv
import io
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tina_repro.errors import UserError
from tina_repro.files import utf8_position

TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}


class ConfigError(UserError, ValueError):
    """A configuration problem, worded as one line that names the file, line and key."""


def load_schema(name: str) -> dict:
    """A schema shipped with the package, e.g. ``experiments.schema.yaml``."""
    text = resources.files("tina_repro.config").joinpath("schemas", name).read_text()
    return yaml.safe_load(text)


def _schema_error(where: str, error: jsonschema.ValidationError) -> ConfigError:
    key = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        key = "/".join([key, unexpected[0]]) if key else unexpected[0]
        return ConfigError(f"{where}: unknown key '{key}' (allowed here: {allowed})")
    if error.validator == "required":
        return ConfigError(f"{where}: {error.message}")
    return ConfigError(f"{where}: key '{key}': {error.message}")


def _non_finite(document: Any, path: tuple = ()) -> tuple | None:
    """The key path of the first NaN or infinite number in ``document``, else None."""
    if isinstance(document, float) and not math.isfinite(document):
        return path
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in items:
        found = _non_finite(value, (*path, key))
        if found is not None:
            return found
    return None


def validate_document(document: dict, schema: dict, where: str) -> None:
    """Raise ConfigError for the first schema violation (or non-finite number) of ``document``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(where, errors[0])
    bad = _non_finite(document)
    if bad is not None:
        key = "/".join(map(str, bad))
        raise ConfigError(
            f"{where}: key '{key}': {_value_at(document, bad)!r} is not a finite number"
        )


def _value_at(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


def _coerce(cell: str, spec: dict, where: str, column: str) -> Any:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "enum" in spec and "type" not in spec:
        types = ["string"]
    text = cell.strip()
    if text == "" and "null" in types:
        return None
    try:
        if "boolean" in types:
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ValueError("expected true or false")
        if "integer" in types:
            number = float(text)
            if not number.is_integer():
                raise ValueError("expected an integer")
            return int(number)
        if "number" in types:
            number = float(text)
            if not math.isfinite(number):
                raise ValueError("expected a finite number")
            return number
    except (ValueError, OverflowError) as err:
        detail = str(err) if "expected" in str(err) else f"expected a {types[0]}"
        raise ConfigError(f"{where}: key '{column}': {text!r} is not valid ({detail})") from None
    return text


def sheet_text(path: Path, display: str) -> str:
    """A sheet's text: UTF-8 without a byte-order mark, else one line saying where and what."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{display} {utf8_position(data, err)} (save the sheet as UTF-8)"
        ) from None
    if text.startswith("\ufeff"):
        # Spreadsheets save "UTF-8 with BOM"; the invisible U+FEFF would glue onto the first key.
        raise ConfigError(
            f'{display} line 1: the sheet starts with a byte-order mark (U+FEFF, as "UTF-8 with '
            'BOM" saves it); save it as plain UTF-8'
        )
    return text


def read_sheet(path: str | Path, schema: dict, display: str | None = None) -> list[dict]:
    """Read a TSV sheet into typed row dicts, validating each row against ``schema``.

    ``display`` is how messages name the file (the path as the config wrote it). Blank lines are
    an error, so that every message's line number is the line a text editor shows.
    """
    path = Path(path)
    display = display or str(path)
    if not path.is_file():
        raise ConfigError(f"{display}: sheet not found")
    with io.StringIO(sheet_text(path, display), newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"{display}: empty sheet (no header line)") from None
        properties = schema.get("properties", {})
        lines = [(reader.line_num, cells) for cells in reader]
        unknown = [c for c in header if c not in properties]
        if unknown:
            column = header.index(unknown[0])
            # Name the first row that sets the unknown key, as that is where the typo was made.
            where = f"{display} line 1"
            for line_no, cells in lines:
                if len(cells) > column and cells[column].strip():
                    where = f"{display} line {line_no} (name={cells[0]})"
                    break
            allowed = ", ".join(properties)
            raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {allowed})")
        rows, seen = [], {}
        for line_no, cells in lines:
            if not cells or all(not c.strip() for c in cells):
                raise ConfigError(
                    f"{display} line {line_no}: blank line (sheets have one row per line; "
                    "delete it)"
                )
            where = f"{display} line {line_no} (name={cells[0]})"
            if len(cells) != len(header):
                raise ConfigError(f"{where}: {len(cells)} cells for {len(header)} columns")
            row = {
                column: _coerce(cell, properties[column], where, column)
                for column, cell in zip(header, cells, strict=True)
            }
            validate_document(row, schema, where)
            if row["name"] in seen:
                raise ConfigError(
                    f"{where}: duplicate name '{row['name']}' (first on line {seen[row['name']]})"
                )
            seen[row["name"]] = line_no
            rows.append({**row, "_line": line_no})
    if not rows:
        raise ConfigError(f"{display}: no rows")
    return rows
