"""Presets ``movielens-100k`` and ``movielens-latest``: the GroupLens MovieLens research data.

Why a preset: the two releases differ in every detail that matters to an importer (tab vs comma,
latin-1 vs UTF-8, genre flags vs genre lists, no header vs header), and the catalogue and user
attributes live in side files that a plain column map cannot join.

``movielens-100k`` (folder ``ml-100k`` or a ratings file in it: ``u.data``, ``u1.base`` ...):

* every rating line is a ``rating`` event on channel ``web`` (time: Unix seconds);
* items from ``u.item``: title, ``release_date`` (ISO) and ``imdb_url`` attributes, ``year`` from
  the title, and the genre flags as categories named by ``u.genre`` — the placeholder genre
  ``unknown`` gives no category, as ``(no genres listed)`` in the latest release;
* customers from ``u.user``: ``age``, ``gender``, ``occupation``, ``zip``.

``movielens-latest`` (folder ``ml-latest-small`` or its ``ratings.csv``):

* ``ratings.csv`` gives ``rating`` events, ``tags.csv`` custom ``tag`` events with ``context.tag``;
* items from ``movies.csv``: the title, ``year`` parsed from it, genres as categories;
  the movie's tags (distinct, case-insensitive, most used first) as item tags, and the IMDb
  (``tt``-prefixed) and TMDb ids of ``links.csv`` as attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from omotenashi.errors import DataError
from omotenashi.files import CsvOptions, read_table
from omotenashi.importers._plan import EventSource, ImportPlan
from omotenashi.ingest import EventDefaults

VARIANTS = ("movielens-100k", "movielens-latest")

# ml-100k
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
ITEM_FLAG_COUNT = 19
_100K_SIDE_FILES = {"u.item", "u.user", "u.genre", "u.info", "u.occupation", "readme"}

# ml-latest
NO_GENRES = "(no genres listed)"
_LATEST_SIDE_FILES = {"movies.csv", "links.csv", "tags.csv", "readme.txt"}
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def title_year(title: str | None) -> int | None:
    """The year in parentheses at the end of a MovieLens title (``'Heat (1995)'`` → 1995).

    Parameters
    ----------
    title : str or None
        A title as written in ``u.item`` or ``movies.csv``.

    Returns
    -------
    int or None
        The year, or None when the title does not end with a four-digit year in parentheses.
    """
    if not title:
        return None
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def _text_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _ratings_file(path: Path, default: str, side_files: set[str], label: str) -> Path:
    """The ratings file for a folder, a side file of the data set, or a ratings file itself."""
    if path.is_dir():
        candidate = path / default
    elif path.name.lower() in side_files:
        candidate = path.parent / default
    else:
        return path
    if not candidate.exists():
        raise DataError(
            f"{path}: no {default!r} here; give the {label} folder or its {default}", field="file"
        )
    return candidate


def _side_file(folder: Path, name: str, *, required: bool = True) -> Path | None:
    file = folder / name
    if file.exists():
        return file
    if required:
        raise DataError(
            f"{folder}: {name!r} is missing (the preset reads it beside the ratings)", field="file"
        )
    return None


# -- ml-100k --------------------------------------------------------------------------------------


def _genre_names(folder: Path) -> list[str]:
    """The 19 genre names of ``u.genre`` in flag order (``name|index`` per line)."""
    file = _side_file(folder, "u.genre")
    assert file is not None
    frame = read_table(
        file, CsvOptions(sep="|", header=False, names=("name", "index"), encoding="latin-1")
    )
    frame = frame[frame["name"].str.strip() != ""]
    index = pd.to_numeric(frame["index"], errors="coerce")
    if index.isna().any() or sorted(index.astype(int)) != list(range(len(frame))):
        raise DataError(f"{file}: expected lines 'name|index' with indexes 0..n-1", field="u.genre")
    return [str(n) for n in frame.assign(i=index.astype(int)).sort_values("i")["name"]]


def _release_date(value: str) -> str | None:
    parsed = pd.to_datetime(value, format="%d-%b-%Y", errors="coerce")
    return None if pd.isna(parsed) else parsed.date().isoformat()


def _items_100k(folder: Path) -> Iterable[dict[str, Any]]:
    genres = _genre_names(folder)
    if len(genres) != ITEM_FLAG_COUNT:
        raise DataError(
            f"{folder / 'u.genre'}: {len(genres)} genres, expected {ITEM_FLAG_COUNT}",
            field="u.genre",
        )
    file = _side_file(folder, "u.item")
    assert file is not None
    frame = read_table(file, CsvOptions(sep="|", header=False, encoding="latin-1"))
    if frame.shape[1] != 5 + ITEM_FLAG_COUNT:
        raise DataError(
            f"{file}: {frame.shape[1]} fields per line, expected "
            f"{5 + ITEM_FLAG_COUNT} (id|title|release|video release|IMDb URL|19 "
            "genre flags)",
            field="u.item",
        )
    flags = frame.iloc[:, 5:].apply(pd.to_numeric, errors="coerce")
    bad = flags.isna().any(axis=1) | ~flags.isin([0, 1]).all(axis=1)
    if bad.any():
        line = int(bad.to_numpy().argmax()) + 1
        raise DataError(f"{file}, line {line}: genre flags must be 0 or 1", field="u.item")
    flag_values = flags.to_numpy(dtype=bool)
    for position, row in enumerate(frame.itertuples(index=False)):
        title = _text_or_none(row[1])
        if title == "unknown":  # the one placeholder film of the data set
            title = None
        attributes: dict[str, Any] = {
            "release_date": _release_date(row[2]) if row[2] else None,
            "imdb_url": _text_or_none(row[4]),
            "year": title_year(title),
        }
        yield {
            "item_id": str(row[0]).strip(),
            "title": title,
            "categories": [
                g
                for g, on in zip(genres, flag_values[position], strict=True)
                if on and g != "unknown"
            ],
            "attributes": {k: v for k, v in attributes.items() if v is not None},
        }


def _customers_100k(folder: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    file = _side_file(folder, "u.user")
    assert file is not None
    frame = read_table(file, CsvOptions(sep="|", header=False, encoding="latin-1"))
    if frame.shape[1] != 5:
        raise DataError(
            f"{file}: {frame.shape[1]} fields per line, expected 5 (id|age|gender|occupation|zip)",
            field="u.user",
        )
    ages = pd.to_numeric(frame.iloc[:, 1], errors="coerce")
    for position, row in enumerate(frame.itertuples(index=False)):
        age = ages.iloc[position]
        attributes = {
            "age": None if pd.isna(age) else int(age),
            "gender": _text_or_none(row[2]),
            "occupation": _text_or_none(row[3]),
            "zip": _text_or_none(row[4]),
        }
        yield str(row[0]).strip(), {k: v for k, v in attributes.items() if v is not None}


def _plan_100k(path: Path) -> ImportPlan:
    ratings = _ratings_file(path, "u.data", _100K_SIDE_FILES, "ml-100k")
    folder = ratings.parent
    source = EventSource(
        path=ratings,
        mapping={"customer": "user_id", "item": "item_id", "rating": "rating", "time": "timestamp"},
        defaults=EventDefaults(type="rating", channel="web"),
        csv=CsvOptions(sep="\t", header=False, names=RATING_COLUMNS, encoding="latin-1"),
    )
    has_items = (folder / "u.item").exists() and (folder / "u.genre").exists()
    return ImportPlan(
        sources=[source],
        items=(lambda: list(_items_100k(folder))) if has_items else None,
        customers=(lambda: list(_customers_100k(folder))) if (folder / "u.user").exists() else None,
        name=f"movielens-100k:{ratings.name}",
    )


# -- ml-latest ------------------------------------------------------------------------------------


def _item_tags(tags_file: Path | None) -> dict[str, list[str]]:
    """Distinct tags per movie (case-insensitive), the most used first, ties alphabetical."""
    if tags_file is None:
        return {}
    frame = read_table(tags_file, CsvOptions(sep=","), columns=("movieId", "tag"))
    frame["tag"] = frame["tag"].str.strip()
    frame = frame[frame["tag"] != ""]
    frame["key"] = frame["tag"].str.lower()
    counts = frame.groupby(["movieId", "key"]).size().rename("n").reset_index()
    # the spelling of a tag: its most common one for that movie (ties: first in sort order)
    spelling = (
        frame.groupby(["movieId", "key", "tag"])
        .size()
        .rename("m")
        .reset_index()
        .sort_values(["movieId", "key", "m", "tag"], ascending=[True, True, False, True])
        .drop_duplicates(["movieId", "key"])
    )
    counts = counts.merge(spelling[["movieId", "key", "tag"]], on=["movieId", "key"])
    counts = counts.sort_values(["movieId", "n", "key"], ascending=[True, False, True])
    return {str(m): list(group["tag"]) for m, group in counts.groupby("movieId", sort=False)}


def _links(links_file: Path | None) -> dict[str, dict[str, Any]]:
    if links_file is None:
        return {}
    frame = read_table(links_file, CsvOptions(sep=","))
    out: dict[str, dict[str, Any]] = {}
    tmdb = pd.to_numeric(frame["tmdbId"], errors="coerce")
    for position, (movie, imdb) in enumerate(zip(frame["movieId"], frame["imdbId"], strict=True)):
        attributes: dict[str, Any] = {}
        if imdb.strip():
            attributes["imdb_id"] = "tt" + imdb.strip()
        if pd.notna(tmdb.iloc[position]):
            attributes["tmdb_id"] = int(tmdb.iloc[position])
        out[movie.strip()] = attributes
    return out


def _items_latest(folder: Path) -> Iterable[dict[str, Any]]:
    movies_file = _side_file(folder, "movies.csv")
    assert movies_file is not None
    frame = read_table(movies_file, CsvOptions(sep=","))
    missing = [c for c in ("movieId", "title", "genres") if c not in frame.columns]
    if missing:
        raise DataError(f"{movies_file}: no column(s) {', '.join(missing)}", field="movies.csv")
    tags = _item_tags(_side_file(folder, "tags.csv", required=False))
    links = _links(_side_file(folder, "links.csv", required=False))
    for movie, title, genres in zip(frame["movieId"], frame["title"], frame["genres"], strict=True):
        movie = movie.strip()
        title_text = _text_or_none(title)
        attributes = dict(links.get(movie, {}))
        year = title_year(title_text)
        if year is not None:
            attributes["year"] = year
        yield {
            "item_id": movie,
            "title": title_text,
            "categories": [
                g.strip() for g in genres.split("|") if g.strip() and g.strip() != NO_GENRES
            ],
            "tags": tags.get(movie, []),
            "attributes": attributes,
        }


def _plan_latest(path: Path) -> ImportPlan:
    ratings = _ratings_file(path, "ratings.csv", _LATEST_SIDE_FILES, "ml-latest-small")
    folder = ratings.parent
    options = CsvOptions(sep=",")
    sources = [
        EventSource(
            path=ratings,
            mapping={
                "customer": "userId",
                "item": "movieId",
                "rating": "rating",
                "time": "timestamp",
            },
            defaults=EventDefaults(type="rating", channel="web"),
            csv=options,
        )
    ]
    tags = _side_file(folder, "tags.csv", required=False)
    if tags is not None:
        sources.append(
            EventSource(
                path=tags,
                mapping={
                    "customer": "userId",
                    "item": "movieId",
                    "time": "timestamp",
                    "context.tag": "tag",
                },
                defaults=EventDefaults(type="tag", channel="web"),
                csv=options,
            )
        )
    return ImportPlan(
        sources=sources,
        items=(lambda: list(_items_latest(folder))) if (folder / "movies.csv").exists() else None,
        name=f"movielens-latest:{ratings.name}",
    )


def plan(path: Path, variant: str = "movielens-100k") -> ImportPlan:
    """The import plan of a MovieLens data set.

    Parameters
    ----------
    path : Path
        The data set's folder, its ratings file (``u.data``, a split such as ``u1.base``, or
        ``ratings.csv``) or one of its side files (then the folder's ratings file is used).
    variant : {"movielens-100k", "movielens-latest"}
        Which release the files come from.

    Returns
    -------
    ImportPlan
        Rating (and tag) events, the film catalogue and, for 100K, the user attributes.

    Raises
    ------
    DataError
        Unknown variant, or a folder without the expected files.
    """
    if variant == "movielens-100k":
        return _plan_100k(path)
    if variant == "movielens-latest":
        return _plan_latest(path)
    raise DataError(
        f"unknown MovieLens variant {variant!r}; expected one of {VARIANTS}", field="preset"
    )
