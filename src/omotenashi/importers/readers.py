"""Chunked readers for CSV, TSV, Parquet and JSON-lines files.

Each chunk comes with the file line (CSV/JSON lines) or row number (Parquet) of its first row so
that an error can name where the bad row is. CSV is read as text (ids such as ``00042`` keep their
zeros; numbers are parsed later with per-field checks).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from omotenashi.errors import DataError

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Chunk:
    """A block of rows and where it starts in the file (1-based line/row of its first row)."""

    frame: pd.DataFrame
    first_line: int
    unit: str  # "line" or "row"


@dataclass(frozen=True)
class CsvOptions:
    sep: str | None = None  # None: sniffed from the first line
    header: bool = True
    names: tuple[str, ...] | None = None  # column names for files without a header
    encoding: str = "utf-8"
    whitespace: bool = False  # columns separated by runs of spaces/tabs


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return "jsonl"
    if ".parquet" in suffixes:
        return "parquet"
    return "csv"


def count_rows(path: Path, options: CsvOptions | None = None) -> int | None:
    """Rows in the file (for progress bars): Parquet metadata, or a fast newline count."""
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".gz":
        return None
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    header = 1 if (options is None or options.header) and fmt == "csv" else 0
    return max(lines - header, 0)


def _sniff_sep(path: Path, encoding: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    opener = open
    if path.suffix == ".gz":
        import gzip

        opener = gzip.open  # type: ignore[assignment]
    with opener(path, "rt", encoding=encoding, errors="replace") as handle:  # type: ignore[operator]
        first = handle.readline()
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_chunks(
    path: Path, options: CsvOptions | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Chunk]:
    """Yield the file's rows in chunks."""
    options = options or CsvOptions()
    if not path.exists():
        raise DataError(f"{path}: no such file")
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
        row = 1
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            yield Chunk(frame, row, "row")
            row += len(frame)
        return
    if fmt == "jsonl":
        line = 1
        try:
            reader = pd.read_json(path, lines=True, chunksize=chunk_rows, dtype=False)
            for frame in reader:
                yield Chunk(frame.reset_index(drop=True), line, "line")
                line += len(frame)
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON lines near line {line} ({exc})") from exc
        return
    sep = r"\s+" if options.whitespace else (options.sep or _sniff_sep(path, options.encoding))
    kwargs: dict[str, object] = {
        "sep": sep,
        "dtype": str,
        "keep_default_na": False,
        "chunksize": chunk_rows,
        "encoding": options.encoding,
    }
    if not options.header:
        kwargs["header"] = None
        if options.names:
            kwargs["names"] = list(options.names)
    line = 2 if options.header else 1
    try:
        with pd.read_csv(path, **kwargs) as reader:  # type: ignore[call-overload]
            for frame in reader:
                frame.columns = [str(c).strip() for c in frame.columns]
                yield Chunk(frame.reset_index(drop=True), line, "line")
                line += len(frame)
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot parse the file near line {line}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not {options.encoding} text near line {line} ({exc.reason}); "
            "give the file's encoding"
        ) from exc
