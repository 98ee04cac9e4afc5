"""Event rows from the mapped columns of a file, vectorised (pandas/numpy/Arrow).

Why columns rather than one ``Event`` per row: a file of half a million lines must import in a
few seconds, so every check is a column operation; rows that fail a check are reported with their
line and field. The checks are those of ``events.Event`` (same types, same id and number checks,
naive times read as UTC) and the row rule is ``ingest._rows`` itself (:func:`settle_amounts`,
:func:`context_json`), so an imported row is stored exactly as the same event tracked live.

Event ids: a file without an ``event_id`` column gets content ids — a 120-bit hash of the row's
fields (20 URL-safe characters), suffixed ``.k`` for the k-th identical row before it in the file —
so importing the same file twice writes nothing new, while two identical lines stay two events.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omotenashi.errors import DataError
from omotenashi.events import (
    ID_CONTROL_PATTERN,
    TYPE_SYNONYMS,
    clean_name,
    date_order,
    event_time_window,
    event_type,
    micros_text,
    numeric_times,
    slashed_parts,
    text_times,
    window_message,
)
from omotenashi.ingest._rows import context_json, settle_amounts
from omotenashi.storage import EVENT_COLUMNS

_MISSING_TEXT = {"", "nan", "NaN", "NA", "N/A", "null", "NULL", "None", "none", "<NA>"}
_NAME_PATTERN = r"[a-z0-9_.:\-]{1,64}"
_ID_MAX = 200


#: How ``--date-order`` names the two orders of ``01/12/2010``: day first (1 December), month
#: first (12 January).
DATE_ORDERS = ("dmy", "mdy")


@dataclass
class EventDefaults:
    """What a file without such a column gets."""

    type: str | None = None  # None: purchase with price/quantity or value, rating, else view
    channel: str | None = None
    cancel_prefix: str | None = None  # order ids starting with it are cancellations (returns)
    #: the time of every row of a file without a time column (a datetime, ISO text or Unix
    #: seconds; naive is UTC). None: such a file is refused. One time for all rows, not one
    #: made up from the file's order: the recency test then finds no order that is not there.
    time: object = None
    #: ``dmy`` or ``mdy``: how the file writes dates like ``01/12/2010`` (``--date-order``),
    #: else decided by the first chunk that shows it (a day above 12 in one place) and kept for
    #: the file's later chunks
    date_order: str | None = None
    #: how ``date_order`` was set: ``given``, ``shown`` by the dates, or ``guessed`` (month
    #: first: no date of the file showed its order); None while no slashed date was read
    date_order_source: str | None = None
    #: the file's whole time column, read when a chunk's dates do not show their order (a file
    #: that starts with the first twelve days of a month); set by the importer
    time_column: Callable[[], pd.Series] | None = None
    #: the file's own spellings of event types and the type each is (``{"bought it":
    #: "purchase"}``), read before the built-in synonyms; keys compare as the file's values do
    #: (lower case, spaces as underscores). ``"bought it=purchase,basket=add_to_cart"`` too.
    type_map: Mapping[str, str] | str | None = None

    def __post_init__(self) -> None:
        if self.time is not None:
            self.time = _default_time(self.time)
        if self.type_map is not None:
            self.type_map = _type_map(self.type_map)
        if self.date_order is not None:
            order = str(self.date_order).strip().lower()
            if order not in DATE_ORDERS:
                raise DataError(
                    f"--date-order: {self.date_order!r} is not one of "
                    f"{', '.join(DATE_ORDERS)} (dmy: 01/12/2010 is 1 December)",
                    field="date_order",
                )
            self.date_order = order
        # the same names as ``Event`` accepts, so a file default can never write a bad name
        for name in ("type", "channel"):
            value = getattr(self, name)
            if value is not None:
                try:
                    clean = event_type(value) if name == "type" else clean_name(value, name)
                    setattr(self, name, clean)
                except ValueError as exc:
                    raise DataError(f"--{name}: {exc}", field=name) from exc


def _type_map(given: Mapping[str, str] | str) -> dict[str, str]:
    """``EventDefaults.type_map`` checked: each spelling (as the file's types are compared)
    and the event type it is, a name ``Event`` accepts (a synonym becomes its known type)."""
    if isinstance(given, str):
        pairs = [p for p in given.split(",") if p.strip()]
        bad = [p for p in pairs if "=" not in p]
        if bad:
            raise DataError(
                f"--type-map: {bad[0].strip()!r} is not SPELLING=TYPE "
                "(example: --type-map 'bought it=purchase,basket=add_to_cart')",
                field="type_map",
            )
        given = dict(p.split("=", 1) for p in pairs)
    mapped: dict[str, str] = {}
    for spelling, name in given.items():
        key = str(spelling).strip().lower().replace(" ", "_")
        if not key:
            raise DataError("--type-map: an empty spelling", field="type_map")
        try:
            mapped[key] = event_type(str(name).strip())
        except ValueError as exc:
            raise DataError(f"--type-map: {spelling!r}: {exc}", field="type_map") from exc
    return mapped


def _default_time(value: object) -> pd.Timestamp:
    """``EventDefaults.time`` checked as a row's time is (readable, inside the event window)."""
    parsed = _parse_times(pd.Series([value]))
    if parsed.isna().iloc[0] or isinstance(value, bool):
        raise DataError(
            f"--default-time: cannot read {value!r} as a date/time", field="default_time"
        )
    micros = int(_micros(parsed)[0])
    earliest, latest = event_time_window()
    if not earliest <= micros <= latest:
        message = window_message(micros_text(micros), micros > latest)
        raise DataError(f"--default-time: {message}", field="default_time")
    return parsed.iloc[0]


@dataclass
class EventColumns:
    """Checked events of one chunk as Arrow columns (``schema.EVENT_COLUMNS`` minus
    ``received_at``): the bulk path hands them to the store without Python objects per row."""

    columns: dict[str, pa.Array]
    size: int

    def table(self, received_at: int) -> pa.Table:
        """The rows as an Arrow table in ``EVENT_COLUMNS`` order."""
        arrays = {
            c: self.columns[c]
            if c != "received_at"
            else pa.array(np.full(self.size, received_at, dtype=np.int64))
            for c in EVENT_COLUMNS
        }
        return pa.table(arrays)


_MISSING_SET = pa.array(sorted(_MISSING_TEXT), type=pa.string())
#: A whole number written as a float (``17850.0``): the id is the number.
_WHOLE_FLOAT = r"^([+-]?[0-9]+)\.0+$"


def id_text(series: pd.Series) -> pa.Array:
    """Ids as trimmed text (arrow), with the usual spellings of 'missing' as null.

    Whole floats lose their '.0' (a customer id read as 12347.0 is '12347'), and so does text
    that spells one: pandas writes an id column with gaps as floats, so Online Retail saved to
    CSV holds '17850.0', which is customer '17850' of every other file."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.astype("object").where(series.notna(), None), type=pa.string())
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        integral = finite & (np.floor(values) == values) & (np.abs(values) < 2**62)
        as_int = pa.array(np.where(integral, values, 0).astype(np.int64), mask=~integral)
        as_float = pa.array(values, mask=~(finite & ~integral))
        return pc.coalesce(pc.cast(as_int, pa.string()), pc.cast(as_float, pa.string()))
    if pd.api.types.is_integer_dtype(dtype):
        return pc.cast(pa.array(series, from_pandas=True), pa.string())
    try:
        array = pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(
            [None if pd.isna(v) else str(v) for v in series.tolist()], type=pa.string()
        )
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = pc.utf8_trim_whitespace(array)
    if pc.any(pc.ends_with(array, ".0")).as_py():  # a byte test first: most files have none
        array = pc.replace_substring_regex(array, pattern=_WHOLE_FLOAT, replacement=r"\1")
    return pc.if_else(pc.is_in(array, value_set=_MISSING_SET), pa.scalar(None, pa.string()), array)


def _is_null(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_null(), dtype=bool)


@dataclass
class Failures:
    """Rows of a chunk that failed a check, column by column, in the order of the checks (each
    bad row once, under the first check it failed)."""

    positions: np.ndarray  # int64: row positions in the chunk
    fields: np.ndarray  # object: the column named in the report
    reasons: np.ndarray  # object: one-line reason

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, k: int) -> tuple[int, str, str]:
        return int(self.positions[k]), str(self.fields[k]), str(self.reasons[k])

    def __iter__(self):
        return (self[k] for k in range(len(self)))


#: Reasons written out per check and chunk; further rows of the same check say "same problem".
_REASONS_SPELLED = 1_000


class _Checker:
    """Collects per-row failures of the vectorised checks, as arrays (no Python per bad row)."""

    def __init__(self, size: int) -> None:
        self.bad = np.zeros(size, dtype=bool)
        self._groups: list[tuple[np.ndarray, str, Callable[[int], str]]] = []

    def fail(self, mask: np.ndarray, field_name: str, reason: Callable[[int], str]) -> None:
        new = np.flatnonzero(mask & ~self.bad)
        if not len(new):
            return
        self._groups.append((new, field_name, reason))
        self.bad |= mask

    @property
    def failures(self) -> Failures:
        if not self._groups:
            empty = np.empty(0, dtype=object)
            return Failures(np.empty(0, dtype=np.int64), empty, empty.copy())
        positions = np.concatenate([g[0] for g in self._groups]).astype(np.int64)
        fields = np.repeat(
            np.array([g[1] for g in self._groups], dtype=object), [len(g[0]) for g in self._groups]
        )
        reasons = np.full(len(positions), "same problem", dtype=object)
        start = 0
        for new, _field, reason in self._groups:
            spelled = new[:_REASONS_SPELLED]
            reasons[start : start + len(spelled)] = [reason(int(p)) for p in spelled]
            start += len(new)
        return Failures(positions, fields, reasons)


def _file_date_order(parts: pd.DataFrame, defaults: EventDefaults | None) -> str | None:
    """The order of a chunk's slashed dates (``events.date_order``) as one for the whole file:
    the order an earlier chunk showed is kept; a chunk that shows none reads the file's whole
    time column for it (a file that starts with the first twelve days of a month)."""
    if defaults is None:
        return date_order(parts)
    if defaults.date_order is not None and defaults.date_order_source is None:
        defaults.date_order_source = "given"  # set before any date was read: --date-order
    if defaults.date_order is None:
        order = date_order(parts)
        if order is None and defaults.time_column is not None:
            whole = slashed_parts(defaults.time_column())
            order = date_order(whole) if whole is not None else None
            if order is None:  # no date of the file shows it: month first, as pandas reads
                order, defaults.date_order_source = "mdy", "guessed"
        if order is None:  # no whole column to read (a transformed source): this chunk's guess
            defaults.date_order_source = "guessed"
            return None
        defaults.date_order = order
        defaults.date_order_source = defaults.date_order_source or "shown"
    return defaults.date_order


def _parse_times(raw: pd.Series, defaults: EventDefaults | None = None) -> pd.Series:
    """UTC times from datetimes, ISO text or numbers (naive values are UTC): Unix time in
    seconds, milliseconds, microseconds or nanoseconds, told by size, or a column of compact
    ``YYYYMMDD`` dates (``events.numeric_times``); text as ``events.text_times`` reads it."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        series = raw
        if getattr(series.dt, "tz", None) is None:
            return series.dt.tz_localize("UTC")
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return numeric_times(raw.astype("float64"))
    text = raw.astype("object")
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all() and len(text):
        return numeric_times(numeric.astype("float64"))
    return text_times(text, lambda parts: _file_date_order(parts, defaults))


def _micros(times: pd.Series) -> np.ndarray:
    """Microseconds since the epoch; NaT becomes 0 (those rows are rejected anyway)."""
    values = times.dt.tz_convert("UTC").dt.tz_localize(None)
    array = values.to_numpy(dtype="datetime64[us]", na_value=np.datetime64(0, "us"))
    return array.astype("int64")


def _json_context(
    frame: pd.DataFrame, names: list[str], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One JSON object string per row from the context columns: ``(stored, hashed)``.

    ``stored`` is :func:`context_json` of the row's context (what a live event stores);
    ``hashed`` keeps the keys in the order of the column map, the text that content ids have
    always been computed from, so a file imported before keeps its event ids. Each distinct
    combination of values is encoded once, so this costs a few column operations whatever the
    number of rows. Missing values are left out of the object.
    """
    if not names or size == 0:
        empty = np.full(size, None, dtype=object)
        return empty, empty
    codes = []
    uniques = []
    for name in names:
        c, u = pd.factorize(frame[f"context.{name}"], use_na_sentinel=True)
        codes.append(c)
        uniques.append(u)
    combo_codes, combos = (
        pd.factorize(pd.MultiIndex.from_arrays(codes))
        if len(names) > 1
        else (codes[0], [(c,) for c in range(len(uniques[0]))])
    )
    uniques = [list(u) for u in uniques]  # plain lists: indexing a pandas Index is slow
    encoded = []
    stored = []
    for combo in combos:
        combo = combo if isinstance(combo, tuple) else (combo,)
        parts = {
            name: _plain(uniques[i][code])
            for i, (name, code) in enumerate(zip(names, combo, strict=True))
            if code >= 0
        }
        encoded.append(json.dumps(parts) if parts else None)
        stored.append(context_json(parts))
    combo_codes = np.asarray(combo_codes)
    if len(names) == 1:
        combo_codes = np.where(combo_codes < 0, len(encoded), combo_codes)
    hashed = np.array(encoded + [None], dtype=object)[combo_codes]
    return np.array(stored + [None], dtype=object)[combo_codes], hashed


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _id_text(h1: np.ndarray, h2: np.ndarray) -> pa.Array:
    """120 bits of the two hashes as 20 URL-safe base64 characters per row (compact keys make
    a smaller, faster event-id index than hex), built as one Arrow string array."""
    stacked = np.stack([h1, h2], axis=1).astype(">u8").view(np.uint8).reshape(-1, 16)[:, :15]
    text = base64.urlsafe_b64encode(stacked.tobytes())
    offsets = np.arange(0, len(text) + 1, 20, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(h1), [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _finalise(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the whole hash."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _column_hashes(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes per row that depend only on the value (not on the chunk
    or the file): each distinct value is hashed once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # type: ignore[call-overload]
    plain = np.asarray(uniques, dtype=object) if len(uniques) else np.empty(0, dtype=object)
    if len(plain) and isinstance(plain[0], float | np.floating):
        plain = np.array([repr(float(v)) for v in plain], dtype=object)
    else:
        plain = np.array([str(v) for v in plain], dtype=object)
    codes = np.where(codes < 0, len(plain), codes)
    out = []
    for key in ("omotenashi-evt-1", "omotenashi-evt-2"):
        table = np.append(pd.util.hash_array(plain, hash_key=key, categorize=False), np.uint64(7))
        out.append(table[codes])
    return out[0], out[1]


def _content_ids(
    content_ids: ContentIds,
    kept: dict[str, pa.Array],
    hashed_context: object,
    content_order: Sequence[str],
    pick: pa.Array | None,
) -> pa.Array:
    """Content ids of the kept rows (or of the rows at ``pick`` among them)."""
    hashed = {**kept, "context": pa.array(hashed_context, type=pa.string())}
    columns = [hashed[name] if pick is None else hashed[name].take(pick) for name in content_order]
    size = len(columns[0]) if columns else 0
    return content_ids.assign([column.to_pandas() for column in columns], size)


class _SeenKeys:
    """The distinct content hashes seen so far, as a few sorted runs of halving sizes.

    Why not one sorted array: re-sorting everything seen at every chunk made a 20-million-row
    import quadratic (the last chunks spent most of their time sorting the first ones). Runs
    are merged only when the newer one has grown to half the older one's size, so every hash
    is merged O(log n) times and a lookup searches O(log n) runs."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Per key (sorted or not), whether it was added before."""
        seen = np.zeros(len(keys), dtype=bool)
        for run in self._runs:
            where = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            seen |= run[where] == keys
        return seen

    def add(self, fresh: np.ndarray) -> None:
        """Add sorted keys that were not seen before."""
        if not len(fresh):
            return
        self._runs.append(fresh)
        while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
            newer = self._runs.pop()
            self._runs[-1] = np.sort(np.concatenate([self._runs[-1], newer]), kind="stable")


class ContentIds:
    """Content-derived event ids, counting identical rows across the chunks of one file."""

    def __init__(self) -> None:
        self._keys = _SeenKeys()  # distinct content hashes seen so far
        self._repeats: dict[int, int] = {}  # hashes seen more than once: how many times

    @staticmethod
    def _hash(columns: list[object], size: int) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore"):
            h1 = np.full(size, np.uint64(len(columns)), dtype=np.uint64)
            h2 = h1.copy()
            for column in columns:
                c1, c2 = _column_hashes(column)
                h1 = _finalise(h1 * _MIX + c1)
                h2 = _finalise(h2 * _MIX + c2)
        return h1, h2

    def assign(self, columns: list[object], size: int) -> pa.Array:
        keys, second = self._hash(columns, size)
        # occurrence = identical rows earlier in this chunk + in earlier chunks
        n = len(keys)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        occurrence = np.empty(n, dtype=np.int64)
        occurrence[order] = np.arange(n) - group_start
        distinct = sorted_keys[starts]
        counts = np.diff(np.r_[np.flatnonzero(starts), n])
        previous = np.zeros(len(distinct), dtype=np.int64)
        if len(self._keys):
            seen = self._keys.contains(distinct)
            previous[seen] = [self._repeats.get(int(k), 1) for k in distinct[seen]]
        if previous.any():  # add the earlier chunks' counts to every row of those hashes
            occurrence += previous[np.searchsorted(distinct, keys)]
        total = previous + counts
        for key, count in zip(distinct[total > 1].tolist(), total[total > 1].tolist(), strict=True):
            self._repeats[key] = count
        self._keys.add(distinct[previous == 0])
        ids = _id_text(keys, second)
        repeated = np.flatnonzero(occurrence > 0)
        if len(repeated):  # the k-th identical row of the file gets ".k"
            suffixed = [f"{ids[int(p)].as_py()}.{int(occurrence[p])}" for p in repeated]
            mask = np.zeros(len(ids), dtype=bool)
            mask[repeated] = True
            ids = pc.replace_with_mask(ids, pa.array(mask), pa.array(suffixed, pa.string()))
        return ids


def _names(array: pa.Array) -> pa.Array:
    """Lower-case names with spaces as underscores (types, channels)."""
    return pc.replace_substring(pc.utf8_lower(array), " ", "_")


def _known_types(types: pa.Array, spellings: Mapping[str, str]) -> pa.Array:
    """Type names with each of ``spellings`` as the type it stands for (the built-in synonyms,
    ``events.TYPE_SYNONYMS``, and a file's own)."""
    synonyms = pa.array(list(spellings), pa.string())
    found = pc.index_in(types, value_set=synonyms)
    if found.null_count == len(found):
        return types
    known = pa.array(list(spellings.values()), pa.string())
    return pc.if_else(pc.is_null(found), types, pc.take(known, found))


def _valid_names(array: pa.Array) -> np.ndarray:
    ok = pc.match_substring_regex(array, f"^{_NAME_PATTERN}$")
    return np.asarray(pc.fill_null(ok, True), dtype=bool)


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=np.isnan(values), type=pa.float64())


def event_columns(
    frame: pd.DataFrame,
    *,
    mapping: dict[str, str],
    defaults: EventDefaults,
    lines: np.ndarray,
    content_ids: ContentIds,
) -> tuple[EventColumns, Failures, np.ndarray]:
    """Check and convert one chunk.

    Returns the prepared good rows, the failures (positions, fields and reasons as arrays) and the
    mask of bad rows (positions in ``frame``).
    """
    missing = [column for column in mapping.values() if column not in frame.columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} not in the file; it has: "
            + ", ".join(str(c) for c in frame.columns if c != "__line__"),
            field="map",
        )
    if "time" not in mapping and defaults.time is None:
        raise DataError(
            "--map must name the time column (time=COLUMN); for a file without one, "
            "--default-time gives every row one time",
            field="map",
        )
    if "time" in mapping and defaults.time is not None:
        raise DataError(
            f"--default-time is for files without a time column; this one has "
            f"time={mapping['time']} (drop one of the two)",
            field="default_time",
        )
    size = len(frame)
    check = _Checker(size)
    columns = {key: frame[column] for key, column in mapping.items()}
    if "time" not in mapping:  # every row at the checked default time
        columns["time"] = pd.Series(defaults.time, index=frame.index)

    def column_name(key: str) -> str:
        return mapping.get(key, key)

    def raw_value(key: str, position: int) -> object:
        return columns[key].iloc[position] if key in columns else None

    null_text = pa.nulls(size, type=pa.string())

    # -- ids --------------------------------------------------------------------------------
    ids: dict[str, pa.Array] = {}
    for key in ("customer", "anonymous", "item", "order", "event_id"):
        if key not in columns:
            ids[key] = null_text
            continue
        text = id_text(columns[key])
        lengths = np.asarray(pc.fill_null(pc.utf8_length(text), 0), dtype=np.int64)
        check.fail(
            lengths > _ID_MAX, column_name(key), lambda p: f"id longer than {_ID_MAX} characters"
        )
        control = pc.fill_null(pc.match_substring_regex(text, ID_CONTROL_PATTERN), False)
        check.fail(
            np.asarray(control, dtype=bool),
            column_name(key),
            lambda p: "control characters (such as NUL or a line break) are not allowed in an id",
        )
        ids[key] = text
    who_missing = _is_null(ids["customer"]) & _is_null(ids["anonymous"])
    check.fail(
        who_missing,
        "/".join(column_name(k) for k in ("customer", "anonymous") if k in mapping) or "customer",
        lambda p: "no customer id and no anonymous id",
    )

    # -- time -------------------------------------------------------------------------------
    times = _parse_times(columns["time"], defaults)
    bad_time = times.isna().to_numpy()
    check.fail(
        bad_time,
        column_name("time"),
        lambda p: f"cannot read {raw_value('time', p)!r} as a date/time",
    )
    ts = _micros(times)
    earliest, latest = event_time_window()  # the rule of events.Event, over the column
    for outside, too_late in (
        (~bad_time & (ts > latest), True),
        (~bad_time & (ts < earliest), False),
    ):
        check.fail(
            outside,
            column_name("time"),
            lambda p, late=too_late: window_message(micros_text(int(ts[p])), late),
        )

    # -- numbers ----------------------------------------------------------------------------
    numbers: dict[str, np.ndarray] = {}
    for key in ("quantity", "price", "value", "rating"):
        if key not in columns:
            numbers[key] = np.full(size, np.nan)
            continue
        raw = columns[key]
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            values = raw.to_numpy(dtype="float64", na_value=np.nan)
            given = ~np.isnan(values)
        else:
            text = id_text(raw)
            values = pd.to_numeric(
                pd.Series(text, dtype=pd.ArrowDtype(pa.string())), errors="coerce"
            ).to_numpy(dtype="float64", na_value=np.nan)
            given = ~_is_null(text)
        bad = given & ~np.isfinite(values)
        check.fail(bad, column_name(key), lambda p, k=key: f"{raw_value(k, p)!r} is not a number")
        numbers[key] = np.where(bad, np.nan, values)

    # -- type and channel -------------------------------------------------------------------
    if "type" in columns:
        # the file's own spellings and the built-in synonyms, before any check of the names
        spellings = {**TYPE_SYNONYMS, **defaults.type_map} if defaults.type_map else TYPE_SYNONYMS
        types = _known_types(_names(id_text(columns["type"])), spellings)
        check.fail(
            ~_valid_names(types),
            column_name("type"),
            lambda p: (
                f"{raw_value('type', p)!r} is not an event type name (give the type it "
                "is with --type-map, e.g. --type-map 'SPELLING=purchase')"
            ),
        )
        types = pc.fill_null(types, "view")
    else:
        default = defaults.type
        if default is None:
            has_money = ("price" in columns and "quantity" in columns) or "value" in columns
            default = "purchase" if has_money else "rating" if "rating" in columns else "view"
        types = pa.array(np.full(size, default, dtype=object), type=pa.string())
    identify_alone = np.asarray(
        pc.fill_null(pc.equal(types, "identify"), False), dtype=bool
    ) & _is_null(ids["customer"])
    check.fail(
        identify_alone,
        column_name("customer"),
        lambda p: "an identify event needs a customer_id",
    )
    quantity = numbers["quantity"]
    cancelled = np.zeros(size, dtype=bool)
    if defaults.cancel_prefix and "order" in columns:
        prefixed = pc.starts_with(ids["order"], defaults.cancel_prefix)
        cancelled = np.asarray(pc.fill_null(prefixed, False), dtype=bool)
    is_purchase = np.asarray(pc.fill_null(pc.equal(types, "purchase"), False), dtype=bool)
    is_return = np.asarray(pc.fill_null(pc.equal(types, "return"), False), dtype=bool)

    if "channel" in columns:
        channels = _names(id_text(columns["channel"]))
        check.fail(
            ~_valid_names(channels),
            column_name("channel"),
            lambda p: f"{raw_value('channel', p)!r} is not a channel name",
        )
        if defaults.channel:
            channels = pc.fill_null(channels, defaults.channel)
    else:
        channels = pa.array([defaults.channel] * size, type=pa.string())

    # -- money: the one sign rule (ingest._rows) --------------------------------------------
    value = numbers["value"]
    if "value" not in columns and "price" in columns:
        value = numbers["price"] * np.where(np.isnan(quantity), 1.0, quantity)
    becomes_return, quantity, value = settle_amounts(
        is_purchase, is_return, quantity, value, cancelled
    )
    types = pc.if_else(pa.array(becomes_return), "return", types)

    # -- context ----------------------------------------------------------------------------
    context_names = [k[len("context.") :] for k in mapping if k.startswith("context.")]

    # -- keep the good rows -----------------------------------------------------------------
    keep = np.flatnonzero(~check.bad)
    take = pa.array(keep, type=pa.int64())
    context, hashed_context = _json_context(
        pd.DataFrame(
            {f"context.{n}": columns[f"context.{n}"].to_numpy()[keep] for n in context_names}
        ),
        context_names,
        len(keep),
    )
    kept = {
        "customer_id": ids["customer"].take(take),
        "anonymous_id": ids["anonymous"].take(take),
        "type": types.take(take),
        "item_id": ids["item"].take(take),
        "order_id": ids["order"].take(take),
        "quantity": _nullable(quantity[keep]),
        "value": _nullable(value[keep]),
        "rating": _nullable(numbers["rating"][keep]),
        "channel": channels.take(take),
        "ts": pa.array(ts[keep]),
        "context": pa.array(context, type=pa.string()),
    }
    content_order = EVENT_COLUMNS[1:-1]  # every stored field but the id and the arrival time
    out: dict[str, pa.Array] = {name: kept[name] for name in content_order}
    out["rating"] = out["rating"].cast(pa.float64())
    given = ids["event_id"].take(take)
    # rows without an id of their own get one from their content (only they are hashed:
    # hashing every row of a file that names its ids cost half of a large import's time)
    missing = np.flatnonzero(_is_null(given))
    if not len(given):
        out["event_id"] = pa.array([], type=pa.string())
    elif len(missing) == len(given):
        out["event_id"] = _content_ids(content_ids, kept, hashed_context, content_order, None)
    elif len(missing):
        pick = pa.array(missing, type=pa.int64())
        generated = _content_ids(content_ids, kept, hashed_context, content_order, pick)
        mask = np.zeros(len(given), dtype=bool)
        mask[missing] = True
        out["event_id"] = pc.replace_with_mask(given, pa.array(mask), generated)
    else:
        out["event_id"] = given.cast(pa.string())
    return EventColumns(out, len(keep)), check.failures, check.bad
