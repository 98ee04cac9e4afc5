"""One reader per file format: CSV/TSV/whitespace text, Parquet and JSON lines.

Imports read files in chunks (:func:`read_chunks`), the analyst commands (``evaluate``,
``value``, ``evaluate ope``) and the dataset loaders read them whole (:func:`read_table`); both go
through the same format detection, separator sniffing and error messages here.

Each chunk comes with the file line (CSV/JSON lines) or row number (Parquet) of its first row so
that an error can name where the bad row is. Imports read CSV as text (ids such as ``00042`` keep
their zeros; numbers are parsed later with per-field checks); ``CsvOptions(text=False)`` lets
pandas infer the column types instead.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import pandas as pd

from omotenashi.errors import DataError

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Chunk:
    """A block of rows and where it starts in the file (1-based line/row of its first row)."""

    frame: pd.DataFrame
    first_line: int
    unit: str  # "line" or "row"
    sheet: str | None = None  # the workbook's sheet, when it has several (rows count in it)

    def located(self, file: str) -> str:
        """``file``, with the sheet the rows are in when the workbook has several: where an
        error names a row."""
        return file if self.sheet is None else f"{file}, sheet {self.sheet!r}"


@dataclass(frozen=True)
class CsvOptions:
    """How to read a delimited text file (Parquet and JSON lines need none of it)."""

    sep: str | None = None  # None: sniffed from the first line
    header: bool = True
    names: tuple[str, ...] | None = None  # column names for files without a header
    encoding: str = "utf-8"
    whitespace: bool = False  # columns separated by runs of spaces/tabs
    text: bool = True  # every column as text (False: pandas infers types, NA spellings missing)
    dtypes: tuple[tuple[str, str], ...] = ()  # (column, dtype) read with that type (text=False)
    index_col: int | None = None  # a column to use as the row index
    decimal: str = "."  # the decimal mark of numbers: "." or "," (3,5 -> 3.5)
    numbers: tuple[str, ...] = ()  # text columns holding numbers (read with ``decimal``)
    #: the sheet of an Excel workbook; None: every sheet, which must share the first's header
    #: (Online Retail II keeps one year per sheet)
    sheet: str | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise DataError(f"decimal mark {self.decimal!r} is not '.' or ','", field="decimal")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise DataError(
                f"unknown encoding {self.encoding!r} (e.g. utf-8, latin-1, cp1252, shift_jis)",
                field="encoding",
            ) from None


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm")):
        return "excel"
    if name.endswith(".xls"):
        raise DataError(
            f"{path}: an Excel 97-2003 workbook (.xls) is not read; save it as .xlsx or CSV",
            field="file",
        )
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return "jsonl"
    if name.endswith((".json", ".json.gz")):
        # Yelp's and Amazon's review dumps are JSON lines named .json; an array is one document
        return "json" if _first_character(path) == "[" else "jsonl"
    if ".parquet" in suffixes:
        return "parquet"
    return "csv"


def _open(path: Path, mode: str, **text: str) -> IO:
    """The file, or what a ``.gz`` file holds, opened in ``mode`` (``text``: its encoding and
    error handling in a text mode)."""
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, mode, **text)
    return open(path, mode, **text)


def _first_character(path: Path) -> str:
    """The first character of a text file that is not white space ("" for none, or no file)."""
    try:
        with _open(path, "rt", encoding="utf-8", errors="replace") as handle:
            while block := handle.read(4096):
                stripped = block.lstrip()
                if stripped:
                    return stripped[0]
    except OSError:
        return ""
    return ""


def count_rows(path: Path, options: CsvOptions | None = None) -> int | None:
    """Rows in the file (for progress bars): Parquet metadata, or a fast newline count.

    Raises ``DataError`` for an empty (zero-byte) file, before any progress is shown."""
    if path.is_file() and path.stat().st_size == 0:
        raise _empty(path, None)
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt == "excel":
        return None  # known once the workbook is read
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
    """The separator of a text file from its first line: ``::`` (MovieLens 1M and 10M's
    ``.dat`` files, whose titles hold commas and genres ``|``), ``,`` ``;`` tab or ``|``, or
    runs of whitespace when the line has none of them but several fields (``1 2 3``)."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    with _open(path, "rt", encoding=encoding, errors="replace") as handle:
        first = handle.readline()
    if "::" in first:
        return "::"
    if not any(c in first for c in ",;\t|") and len(first.split()) > 1:
        return r"\s+"
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _missing(path: Path, field: str | None) -> DataError:
    return DataError(f"{path}: no such file (file not found)", field=field)


#: A number written with a decimal comma and optional ``.`` thousands: ``3,5``, ``-1.234,50``.
_COMMA_NUMBER = r"^\s*[-+]?(?:\d{1,3}(?:\.\d{3})+|\d*)(?:,\d*)?\s*$"


def _decimal_points(frame: pd.DataFrame, options: CsvOptions) -> pd.DataFrame:
    """Text number columns written with a decimal comma, rewritten with a point (``1.234,5`` ->
    ``1234.5``); anything else is left as it is, for the caller's number check to name."""
    if options.decimal == "." or not options.text:
        return frame
    for column in options.numbers:
        if column not in frame.columns:
            continue
        text = frame[column].astype(str)
        comma = text.str.match(_COMMA_NUMBER) & text.str.strip().ne("")
        converted = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        frame[column] = text.where(~comma, converted)
    return frame


def _empty(path: Path, field: str | None) -> DataError:
    return DataError(f"file {path} is empty", field=field)


def _header_only(path: Path, field: str | None) -> DataError:
    return DataError(f"file {path} has a header but no rows", field=field)


def _decode_error(
    path: Path, options: CsvOptions, exc: UnicodeDecodeError, field: str | None
) -> DataError:
    """The file is not text in its encoding: say where (the line of the bad byte when the file
    can be read up to it) and how to give the right one."""
    where = ""
    line = _line_of_byte(path, exc)
    if line is not None:
        where = f" at line {line}"
    return DataError(
        f"{path}: not valid {options.encoding} text{where} ({exc.reason}); give the file's "
        "encoding with --encoding (e.g. --encoding latin-1, cp1252 or shift_jis)",
        field=field or "encoding",
    )


def _line_of_byte(path: Path, exc: UnicodeDecodeError) -> int | None:
    """The 1-based line holding the first byte the encoding rejects (plain files only)."""
    if path.suffix == ".gz":
        return None
    try:
        data = path.read_bytes()
        data.decode(exc.encoding, errors="strict")
    except UnicodeDecodeError as whole:
        return data[: whole.start].count(b"\n") + 1
    except (OSError, LookupError):
        return None
    return None


def _read_excel(path: Path, options: CsvOptions, nrows: int | None = None) -> pd.DataFrame:
    """An Excel workbook's rows as one frame (:func:`_excel_chunks` joined; ``nrows``: at most
    so many rows)."""
    frames = []
    for chunk in _excel_chunks(path, options, max(nrows, 1) if nrows is not None else CHUNK_ROWS):
        frames.append(chunk.frame if nrows is None else chunk.frame.iloc[:nrows])
        if nrows is not None:
            break
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _excel_chunks(path: Path, options: CsvOptions, chunk_rows: int) -> Iterator[Chunk]:
    """An Excel workbook's rows in chunks (read by calamine, in Rust: about 50,000 rows/s, ten
    times openpyxl's): the ``options.sheet``, or every sheet when none is named, one after
    another; a sheet whose header differs from the first's is refused by name (``--sheet``
    picks one). Cells become text like a CSV's (``options.text``): dates as ISO text, whole
    numbers without a spurious ``.0``; blank rows are skipped. Each chunk's ``first_line`` is
    the row in its own sheet (the header is row 1; a chunk ends at a blank row, so that its
    rows are consecutive), and ``sheet`` names the sheet when the workbook has several.

    Rows become Python objects one chunk at a time: the whole workbook as one frame of
    objects (``pandas.read_excel``) took 4 times the memory at 100,000 rows, and grows with
    the workbook; a sheet's cells are still held once, in calamine's own compact form."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine's errors have no common Python base
        raise DataError(f"{path}: not an Excel workbook ({exc})", field="file") from exc
    names = list(book.sheet_names)
    if options.sheet is not None:
        if options.sheet not in names:
            raise DataError(
                f"{path}: no sheet named {options.sheet!r} (it has {', '.join(names)})",
                field="sheet",
            )
        names = [options.sheet]
    first: list[object] | None = None
    yielded = False
    for name in names:
        try:
            rows = book.get_sheet_by_name(name).iter_rows()
        except Exception as exc:  # calamine's errors have no common Python base
            raise DataError(f"{path}: cannot read sheet {name!r} ({exc})", field="file") from exc
        row_number = 0  # the sheet's row of the last row taken (1-based)
        columns: list[object] | None = None
        if options.header:
            for row in rows:
                row_number += 1
                if not _blank(row):
                    columns = _header_names(row)
                    break
            if columns is None:  # an empty sheet
                continue
        if first is None:
            first = columns
        elif columns != first:
            raise DataError(
                f"{path}: its sheets have different columns ({name} differs from {names[0]}); "
                "import one at a time with --sheet NAME",
                field="sheet",
            )
        block: list[list[object]] = []
        block_start = row_number + 1
        for row in rows:
            row_number += 1
            if _blank(row):
                # a chunk's rows are consecutive rows of the sheet, so that each keeps its
                # number: the rows after a blank one start another
                if block:
                    yield _sheet_chunk(block, columns, options, block_start, name, len(names))
                    yielded, block = True, []
                continue
            if not block:
                block_start = row_number
            block.append(row)
            if len(block) == chunk_rows:
                yield _sheet_chunk(block, columns, options, block_start, name, len(names))
                yielded, block = True, []
        if block:
            yield _sheet_chunk(block, columns, options, block_start, name, len(names))
            yielded = True
    if not yielded:  # no row: an empty frame with the header's columns, as a CSV's gives
        yield _sheet_chunk([], first or [], options, 2, names[0] if names else "", len(names))


def _blank(row: list[object]) -> bool:
    return all(cell is None or cell == "" for cell in row)


def _header_names(row: list[object]) -> list[object]:
    """A header row's names as a CSV header gives them: text, stripped; a blank one
    ``Unnamed: N`` and a repeated one ``NAME.1`` (as pandas names them)."""
    names: list[object] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(row):
        name = _text_of(cell).strip() or f"Unnamed: {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        names.append(name)
    return names


def _sheet_chunk(
    rows: list[list[object]],
    columns: list[object] | None,
    options: CsvOptions,
    first_row: int,
    sheet: str,
    sheets: int,
) -> Chunk:
    """One chunk of a sheet's rows as a frame (text cells, or Python values with blank cells
    missing when ``options.text`` is off)."""
    width = len(columns) if columns is not None else max((len(r) for r in rows), default=0)
    names = columns if columns is not None else list(range(width))
    cell = _text_of if options.text else _value_of
    data = {n: [cell(r[i]) for r in rows] for i, n in enumerate(names)}
    frame = pd.DataFrame(data, columns=names, dtype=object)
    if not options.text:
        frame = frame.infer_objects()
    return Chunk(frame, first_row, "row", sheet if sheets > 1 else None)


def _text_of(value: object) -> str:
    """A workbook cell as a CSV reader would give it: text, empty cells as "" ."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _value_of(value: object) -> object:
    """A workbook cell as ``pandas.read_excel`` gives it: whole numbers as integers, dates as
    Timestamps, blank cells missing."""
    from datetime import date, timedelta

    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, date):
        return pd.Timestamp(value)
    if isinstance(value, timedelta):
        return pd.Timedelta(value)
    return value


def _text_encoding(path: Path, options: CsvOptions) -> str:
    """``options.encoding``, or UTF-16 for a file that starts with UTF-16's byte-order mark
    while UTF-8 is asked for (the default): Excel's "Unicode text" export is UTF-16, which no
    UTF-8 reader can read, and its mark says so."""
    if codecs.lookup(options.encoding).name != "utf-8":
        return options.encoding
    try:
        with _open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return options.encoding
    return "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else options.encoding


def _csv_arguments(path: Path, options: CsvOptions) -> dict[str, object]:
    """``pandas.read_csv`` arguments for the options (shared by both readers)."""
    encoding = _text_encoding(path, options)
    sep = r"\s+" if options.whitespace else (options.sep or _sniff_sep(path, encoding))
    kwargs: dict[str, object] = {"sep": sep, "encoding": encoding}
    if len(sep) > 1 and sep != r"\s+":  # ``::``: pandas' C parser takes one character
        kwargs.update(sep=re.escape(sep), engine="python")
    if options.decimal != "." and not options.text:
        kwargs.update(decimal=options.decimal, thousands=".")
    if options.text:
        kwargs.update(dtype=str, keep_default_na=False)
    elif options.dtypes:
        kwargs["dtype"] = dict(options.dtypes)
    if not options.header:
        kwargs["header"] = None
        if options.names:
            kwargs["names"] = list(options.names)
    if options.index_col is not None:
        kwargs["index_col"] = options.index_col
    return kwargs


def read_table(
    path: Path | str,
    options: CsvOptions | None = None,
    *,
    columns: Sequence[str] | None = None,
    field: str | None = None,
) -> pd.DataFrame:
    """The whole file as one frame (Parquet, JSON lines, or delimited text by ``options``).

    Parameters
    ----------
    path : Path or str
        ``.parquet``/``.pq`` files are Parquet, ``.jsonl``/``.ndjson`` JSON lines, anything
        else delimited text.
    options : CsvOptions, optional
        How to read text files; default: sniffed separator, header line, all columns as text.
    columns : sequence of str, optional
        Read only these columns (all by default).
    field : str, optional
        The field named by errors (the command's option, e.g. ``data`` or ``logs``).

    Raises
    ------
    DataError
        A missing or unreadable file.
    """
    path = Path(path)
    options = options or CsvOptions()
    fmt = _format_of_readable(path, field)
    with _read_errors(path, options, field, "the file"):
        if fmt == "parquet":
            frame = pd.read_parquet(path, columns=list(columns) if columns else None)
        elif fmt == "excel":
            frame = _read_excel(path, options)
            frame = frame[list(columns)] if columns else frame
            if frame.empty and options.header:
                raise _header_only(path, field)
        elif fmt in ("jsonl", "json"):
            frame = pd.read_json(path, lines=fmt == "jsonl", dtype=False)
            frame = frame[list(columns)] if columns else frame
        else:
            kwargs = _csv_arguments(path, options)
            if columns:
                kwargs["usecols"] = list(columns)
            frame = pd.read_csv(path, **kwargs)  # type: ignore[call-overload]
            frame.columns = [str(c).strip() for c in frame.columns]
            frame = _decimal_points(frame, options)
            if frame.empty and options.header:
                raise _header_only(path, field)
    return frame


def _format_of_readable(path: Path, field: str | None) -> str:
    """The file's format, once it is known to exist and hold something."""
    if not path.is_file():
        raise _missing(path, field)
    if path.stat().st_size == 0:
        raise _empty(path, field)
    return file_format(path)


@contextmanager
def _read_errors(path: Path, options: CsvOptions, field: str | None, what: str) -> Iterator[None]:
    """The readers' errors as one ``DataError`` naming the file (``what``: what was read)."""
    try:
        yield
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise _decode_error(path, options, exc, field) from exc
    except pd.errors.EmptyDataError as exc:
        raise _empty(path, field) from exc
    except (OSError, ValueError, ImportError) as exc:  # ParserError, ArrowInvalid: ValueError
        raise DataError(f"{path}: cannot read {what} ({exc})", field=field) from exc


def read_header(
    path: Path | str, options: CsvOptions | None = None, *, field: str | None = None
) -> list[str]:
    """The file's column names, without reading its rows: Parquet's schema, the keys of the
    first JSON line, or a text file's header line (separator sniffed as for reading)."""
    path = Path(path)
    options = options or CsvOptions()
    fmt = _format_of_readable(path, field)
    with _read_errors(path, options, field, "the file's header"):
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
        if fmt == "jsonl":
            first = next(iter(pd.read_json(path, lines=True, chunksize=1, dtype=False)), None)
            return [] if first is None else [str(c) for c in first.columns]
        if fmt == "json":
            return [str(c) for c in pd.read_json(path, dtype=False).columns]
        if fmt == "excel":
            return list(_read_excel(path, options, nrows=0).columns)
        kwargs = _csv_arguments(path, options)
        header = pd.read_csv(path, nrows=0, **kwargs)  # type: ignore[call-overload]
        return [str(c).strip() for c in header.columns]


def first_lines(
    path: Path | str, options: CsvOptions | None = None, n: int = 2, *, field: str | None = None
) -> list[list[str]]:
    """The fields of a text file's first ``n`` lines as text, none of them taken for a header
    (separator sniffed as for reading): what tells a header line from a first row."""
    path = Path(path)
    options = replace(options or CsvOptions(), header=False, names=None, text=True)
    with _read_errors(path, options, field, "the file's first lines"):
        frame = pd.read_csv(path, nrows=n, **_csv_arguments(path, options))  # type: ignore[call-overload]
    return [[str(value).strip() for value in row] for row in frame.itertuples(index=False)]


def header_and_map(
    file: Path, columns: Mapping[str, str], options: CsvOptions
) -> tuple[bool, dict[str, str]]:
    """Whether the file's first line is a header, and the map to read the file with.

    A map whose every column is a number names columns by position (``--map
    customer=0,item=1,time=3``, 0-based). Such a text file has no
    header unless its first line is one:

    - it names every number of the map (the numbers are then its column names); or
    - its fields at the map's positions are words where the next line holds a number at one of
      them at least (CDNOW's `` customer_id date number_of_cds dollar_value`` over ``00001
      19970101 1 11.77``). The map then names the header's columns at those positions.

    MovieLens 1M's ``1::1193::5::978300760`` is a first row: it holds a ``1``, but no ``0``,
    ``2`` or ``3``, and its fields are numbers."""
    mapping = dict(columns)
    specs = list(mapping.values())
    if not specs or not all(c.isdigit() for c in specs):
        return True, mapping
    fmt = file_format(file)
    if fmt not in ("csv", "excel"):
        return True, mapping
    names = read_header(file, options, field="map")
    if set(specs) <= set(names):
        return True, mapping
    if fmt == "csv":
        lines = first_lines(file, options, field="map")
        positions = [int(c) for c in specs]
        if (
            len(lines) == 2
            and len(set(names)) == len(names)
            and all(p < min(len(names), len(lines[0]), len(lines[1])) for p in positions)
            and not any(_number(lines[0][p]) for p in positions)
            and any(_number(lines[1][p]) for p in positions)
        ):
            return True, {key: names[int(c)] for key, c in mapping.items()}
    return False, mapping


def _number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def read_chunks(
    path: Path,
    options: CsvOptions | None = None,
    chunk_rows: int = CHUNK_ROWS,
    *,
    field: str | None = None,
) -> Iterator[Chunk]:
    """Yield the file's rows in chunks."""
    options = options or CsvOptions()
    if not path.exists():
        raise _missing(path, field)
    if path.is_file() and path.stat().st_size == 0:
        raise _empty(path, field)
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}: not a readable Parquet file ({exc})", field=field) from exc
        row = 1
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            yield Chunk(frame, row, "row")
            row += len(frame)
        return
    if fmt == "excel":
        yield from _excel_chunks(path, options, chunk_rows)
        return
    if fmt == "json":  # one array of records: read whole, handed on in chunks of records
        with _read_errors(path, options, field, "the JSON file"):
            frame = pd.read_json(path, dtype=False)
        for start in range(0, len(frame), chunk_rows):
            part = frame.iloc[start : start + chunk_rows].reset_index(drop=True)
            yield Chunk(part, start + 1, "record")
        return
    if fmt == "jsonl":
        line = 1
        try:
            reader = pd.read_json(path, lines=True, chunksize=chunk_rows, dtype=False)
            for frame in reader:
                yield Chunk(frame.reset_index(drop=True), line, "line")
                line += len(frame)
        except ValueError as exc:
            raise DataError(
                f"{path}: not valid JSON lines near line {line} ({exc})", field=field
            ) from exc
        return
    kwargs = _csv_arguments(path, options)
    kwargs["chunksize"] = chunk_rows
    line = 2 if options.header else 1
    try:
        with pd.read_csv(path, **kwargs) as reader:  # type: ignore[call-overload]
            for frame in reader:
                frame.columns = [str(c).strip() for c in frame.columns]
                frame = _decimal_points(frame.reset_index(drop=True), options)
                yield Chunk(frame, line, "line")
                line += len(frame)
    except pd.errors.EmptyDataError as exc:
        raise _empty(path, field) from exc
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{path}: cannot parse the file near line {line}: {exc}", field=field
        ) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, options, exc, field) from exc
