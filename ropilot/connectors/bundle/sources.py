"""Readers for the three bundle containers: a CSV folder, a zip of it, an XLSX workbook.

Each yields, per table, the header and the data rows with their line numbers, streaming:
a large bundle is never held in memory. CSV files are checked for encoding (UTF-8, with or
without BOM, else Windows-1251) and separator (``,`` or ``;``) and the reader says which it
used; a file that reads two ways is refused rather than guessed.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from ropilot.core.errors import BundleError, BundleIssue

_CHUNK = 1 << 20
csv.field_size_limit(1 << 24)


@dataclass
class TableReader:
    """One table opened for reading."""

    label: str
    """How errors name the table: ``deals.csv`` or ``sheet deals``."""
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    """(line number, cells) for each non-blank data row; the header is line 1."""
    decimal_comma: bool = False
    """Whether money cells may use a decimal comma (Excel in a Russian locale)."""
    notes: list[str] = field(default_factory=list)
    consumed: Callable[[], int] = lambda: 0
    """Work units (bytes or rows) read so far, for progress."""


class BundleSource(Protocol):
    """A bundle container."""

    description: str

    def tables(self) -> list[str]:
        """Table names present (file names without ``.csv``, or sheet names)."""

    def size(self, table: str) -> int:
        """Work units the table will take to read (bytes or rows)."""

    def open(self, table: str, required: list[str]) -> AbstractContextManager[TableReader]:
        """Open a table; ``required`` columns help tell the separator."""


def open_bundle(path: Path) -> BundleSource:
    """The reader for a bundle path (a folder, ``.zip`` or ``.xlsx``).

    Raises:
        BundleError: when the path does not exist or is not a bundle.
    """
    if not path.exists():
        raise BundleError(f"{path}: no such file or folder")
    if path.is_dir():
        return CsvFolderSource(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return ZipSource(path)
    if suffix in (".xlsx", ".xlsm"):
        return XlsxSource(path)
    raise BundleError(
        f"{path}: a bundle is a folder of CSV files, a .zip of them or an .xlsx workbook"
    )


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _detect_encoding(open_binary: Callable[[], IO[bytes]]) -> tuple[str, str]:
    """(codec, note): UTF-8 (BOM tolerated) when the whole file decodes, else Windows-1251."""
    with open_binary() as fh:
        head = fh.read(3)
        bom = head == codecs.BOM_UTF8
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            decoder.decode(head)
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251", "encoding Windows-1251 (the file is not valid UTF-8)"
    return ("utf-8-sig", "encoding UTF-8 with BOM") if bom else ("utf-8", "encoding UTF-8")


def _split_header(line: str, sep: str) -> list[str]:
    return [h.strip() for h in next(csv.reader([line], delimiter=sep), [])]


def _choose_separator(label: str, first_line: str, required: list[str]) -> str:
    """Pick ``,`` or ``;`` by which one yields a header with the required columns."""
    readings = {sep: _split_header(first_line, sep) for sep in (",", ";")}
    fits = [
        sep for sep, cols in readings.items() if len(cols) > 1 and all(r in cols for r in required)
    ]
    if len(fits) == 1:
        return fits[0]
    if len(fits) == 2:
        raise BundleError(
            f"{label}: the header reads both with ',' and ';' as separator; "
            "quote the header names or use one separator",
            [BundleIssue(label, 1, None, "ambiguous separator")],
        )
    sep = max(readings, key=lambda s: len(readings[s]))
    missing = [r for r in required if r not in readings[sep]]
    issues = [BundleIssue(label, 1, m, "required column is missing") for m in missing]
    raise BundleError(f"{label}: required column(s) missing: {', '.join(missing)}", issues)


def _csv_table(
    label: str, open_binary: Callable[[], IO[bytes]], required: list[str]
) -> Iterator[TableReader]:
    codec, enc_note = _detect_encoding(open_binary)
    with open_binary() as raw:
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, buffer_size=_CHUNK)
        stream = io.TextIOWrapper(buffered, encoding=codec, newline="")
        first = stream.readline()
        if not first.strip():
            raise BundleError(
                f"{label}: the file is empty; it needs a header row",
                [BundleIssue(label, 1, None, "no header row")],
            )
        sep = _choose_separator(label, first.rstrip("\r\n"), required)
        header = _split_header(first.rstrip("\r\n"), sep)
        reader = csv.reader(stream, delimiter=sep, strict=True)

        def rows() -> Iterator[tuple[int, list[Any]]]:
            last = 1
            try:
                for cells in reader:
                    start = last + 1
                    last = reader.line_num + 1
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue
                    yield start, cells
            except csv.Error as exc:
                raise BundleError(
                    f"{label} line {last + 1}: broken CSV quoting ({exc})",
                    [BundleIssue(label, last + 1, None, f"broken CSV quoting ({exc})")],
                ) from None

        notes = [f"{label}: {enc_note}, separator '{sep}'"]
        yield TableReader(
            label=label,
            header=header,
            rows=rows(),
            decimal_comma=sep == ";",
            notes=notes,
            consumed=lambda: counter.count,
        )


class CsvFolderSource:
    """A folder of ``<table>.csv`` files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"CSV folder {path}"
        self._files = {p.stem: p for p in sorted(path.glob("*.csv")) if p.is_file()}
        if not self._files:
            self._files = {p.stem: p for p in sorted(path.glob("*.CSV")) if p.is_file()}

    def tables(self) -> list[str]:
        return list(self._files)

    def size(self, table: str) -> int:
        return self._files[table].stat().st_size

    @contextmanager
    def open(self, table: str, required: list[str]) -> Iterator[TableReader]:
        path = self._files[table]
        yield from _csv_table(path.name, lambda: path.open("rb"), required)


class ZipSource:
    """A zip of the CSV folder (files at the top level or inside one folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"zip {path}"
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise BundleError(f"{path}: not a valid zip file ({exc})") from exc
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.suffix.lower() != ".csv" or name.name.startswith("._"):
                continue
            if len(name.parts) > 2 or "__MACOSX" in name.parts:
                continue
            if name.stem in self._members:
                raise BundleError(f"{path}: {name.name} appears twice in the zip")
            self._members[name.stem] = info

    def tables(self) -> list[str]:
        return list(self._members)

    def size(self, table: str) -> int:
        return self._members[table].file_size

    @contextmanager
    def open(self, table: str, required: list[str]) -> Iterator[TableReader]:
        info = self._members[table]
        yield from _csv_table(
            PurePosixPath(info.filename).name, lambda: self._zip.open(info), required
        )


class XlsxSource:
    """One workbook, one sheet per table."""

    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        self.path = path
        self.description = f"workbook {path}"
        try:
            self._wb = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise BundleError(f"{path}: not a readable .xlsx workbook ({exc})") from exc

    def tables(self) -> list[str]:
        return [str(name).strip() for name in self._wb.sheetnames]

    def _sheet(self, table: str) -> Any:
        for name in self._wb.sheetnames:
            if str(name).strip() == table:
                return self._wb[name]
        raise KeyError(table)

    def size(self, table: str) -> int:
        return int(self._sheet(table).max_row or 0)

    @contextmanager
    def open(self, table: str, required: list[str]) -> Iterator[TableReader]:
        sheet = self._sheet(table)
        label = f"sheet {table}"
        it = sheet.iter_rows(values_only=True)
        first = next(it, None)
        if first is None or all(v is None for v in first):
            raise BundleError(
                f"{label}: the sheet is empty; it needs a header row",
                [BundleIssue(label, 1, None, "no header row")],
            )
        header = ["" if v is None else str(v).strip() for v in first]
        missing = [r for r in required if r not in header]
        if missing:
            issues = [BundleIssue(label, 1, m, "required column is missing") for m in missing]
            raise BundleError(f"{label}: required column(s) missing: {', '.join(missing)}", issues)
        state = {"n": 1}

        def rows() -> Iterator[tuple[int, list[Any]]]:
            for line, cells in enumerate(it, start=2):
                state["n"] = line
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                    continue
                yield line, list(cells)

        yield TableReader(
            label=label,
            header=header,
            rows=rows(),
            decimal_comma=False,
            notes=[f"{label}: workbook sheet"],
            consumed=lambda: state["n"],
        )

    def close(self) -> None:
        """Release the workbook file."""
        self._wb.close()
