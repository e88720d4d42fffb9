"""The files ``rosterd import`` reads: JSON Lines and CSV, as numbered raw records.

JSON Lines: one record a line (a group, a team or a user, told by ``type``; see
rosterd.services.imports). CSV: users only, one a row after a header row whose columns are
named like the JSON Lines keys (``username``, ``email``, ``first_name``, ...); ``groups`` is a
``;``-separated list; an empty cell is a value not given. A file's format is its extension's
(``.csv``; anything else is JSON Lines) unless named.

Line numbers are the file's own (1-based; blank lines count, CSV's header is line 1), so a
report points at the line an editor shows.
"""

from __future__ import annotations

import csv
import enum
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The CSV columns a user record has (the JSON Lines keys but ``type``).
CSV_COLUMNS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "title",
    "department",
    "phone",
    "locale",
    "role",
    "team",
    "groups",
    "external_id",
    "last_login_at",
    "status",
)
CSV_LIST_SEPARATOR = ";"


class Format(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"

    @classmethod
    def of(cls, path: Path) -> Format:
        """The format a file's name says: ``.csv`` is CSV, anything else JSON Lines."""
        return cls.csv if path.suffix.lower() == ".csv" else cls.jsonl


@dataclass(frozen=True)
class RawRecord:
    """One record as read: its line number and either the JSON text of a JSON Lines line or
    the cells of a CSV row (a user), or ``error`` when the line could not be read at all."""

    line: int
    text: str | None = None
    cells: dict[str, Any] | None = None
    error: tuple[str, str] | None = None


@dataclass(frozen=True)
class FileFacts:
    """What identifies an import file and sizes its progress."""

    import_id: str
    lines: int


def facts(path: Path, fmt: Format) -> FileFacts:
    """The file's import id (sha256 of its format and bytes: the same content is the same
    import, wherever it lies) and its line count, in one read."""
    digest = hashlib.sha256(f"{fmt.value}\n".encode())
    lines = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return FileFacts(digest.hexdigest(), lines + (last != b"\n"))


def read(path: Path, fmt: Format) -> Iterator[RawRecord]:
    """The file's records in order, numbered by the line each starts on."""
    with path.open(encoding="utf-8", newline="" if fmt is Format.csv else None) as fh:
        if fmt is Format.csv:
            yield from _csv(fh)
        else:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield RawRecord(number, text=line)


def _csv(fh: Any) -> Iterator[RawRecord]:
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield RawRecord(1, error=("record", f"not CSV: {exc}"))
        return
    names = [name.strip() for name in header]
    unknown = [name for name in names if name not in CSV_COLUMNS]
    if unknown or len(set(names)) != len(names):
        what = f"unknown column {unknown[0]!r}" if unknown else "a column is named twice"
        yield RawRecord(1, error=("header", f"{what}; columns: {', '.join(CSV_COLUMNS)}"))
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(start, error=("record", f"not CSV: {exc}"))
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            yield RawRecord(
                start, error=("record", f"{len(row)} cells where the header has {len(names)}")
            )
            continue
        cells: dict[str, Any] = {"type": "user"}
        for name, cell in zip(names, row, strict=True):
            if not cell.strip():
                continue
            if name == "groups":
                cells[name] = [g for g in cell.split(CSV_LIST_SEPARATOR) if g.strip()]
            else:
                cells[name] = cell
        yield RawRecord(start, cells=cells)
