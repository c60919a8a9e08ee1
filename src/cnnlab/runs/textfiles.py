"""How the text files of a run directory are read and written: UTF-8 text as `open()` reads
it (with less machinery: a listing reads thousands of small files) and CSV tables of numbers.

`RunDir` owns the file names; this module only turns bytes into text and rows.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError

_CHUNK = 1 << 16  # bytes read at a time from a file that grew since its size was taken


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header; missing values are empty cells."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    return buffer.getvalue()


def read_csv_rows(path: Path) -> list[dict[str, float | None]]:
    """A CSV written by `csv_text` back as rows of floats (empty cells are None)."""
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            return [
                {
                    key: (float(value) if value not in ("", None) else None)
                    for key, value in row.items()
                }
                for row in csv.DictReader(stream)
            ]
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        raise CnnlabError(f"{path}: not a readable table of numbers: {error}") from None


def read_text_file(path: Path, errors: str = "strict") -> str | None:
    """A UTF-8 file's text with universal newlines, as `open(path).read()` gives it, or None
    when there is no such file (or a folder has its name). A listing reads thousands of small
    files: plain os calls (open, size, read to the end, close) without a stat before nor
    Python's file objects, half the system calls and CPU time of `open(path).read()`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    try:
        chunks = [os.read(fd, os.fstat(fd).st_size + 1)]  # the whole file, then b"" at its end
        while chunks[-1]:
            chunks.append(os.read(fd, _CHUNK))
    except IsADirectoryError:
        return None
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8", errors)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_csv_column(path: Path, text: str, column: str) -> list[float | None]:
    """Column `column` of CSV `text` (from `path`) as floats, a value per row as `read_csv_rows`
    reads it (empty cells, short rows and a missing column are None)."""
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, [])
        if column not in header:
            return [None for row in rows if row]
        at = header.index(column)
        cells = [row[at] if at < len(row) else "" for row in rows if row]
        return [float(cell) if cell else None for cell in cells]
    except (ValueError, csv.Error) as error:
        raise CnnlabError(f"{path}: not a readable table of numbers: {error}") from None
