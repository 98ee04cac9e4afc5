"""Bundles: from a catalogue of parts with groups and constraints, the set that suits one
customer best, solved exactly as a 0/1 programme (see ``_milp``).

A catalogue is plain data (a JSON file or a dict): groups with how many parts each takes, parts
with group, price, category and stock, incompatible pairs, parts that need others, required
parts and a budget. Money is compared in cents, so a bundle priced exactly at the budget fits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omotenashi.compose._milp import Programme, best
from omotenashi.compose._signals import Taste, part_utility
from omotenashi.errors import DataError


@dataclass(frozen=True)
class Group:
    id: str
    min: int = 0
    max: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Part:
    id: str
    group: str
    price: float
    name: str = ""
    category: str | None = None
    item_id: str | None = None
    stock: int | None = None
    base: float = 0.0


@dataclass(frozen=True)
class BundleCatalog:
    """A parsed bundle catalogue (see :func:`parse_bundle_catalog` for the layout)."""

    name: str
    parts: tuple[Part, ...]
    groups: tuple[Group, ...]
    incompatible: tuple[tuple[str, str], ...] = ()
    requires: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()
    budget: float | None = None
    max_parts: int | None = None
    currency: str = ""
    segment_boosts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChosenPart:
    id: str
    name: str
    group: str
    price: float
    utility: float
    reasons: list[str]


@dataclass(frozen=True)
class Bundle:
    """One bundle: its parts with price, utility and reasons; totals."""

    rank: int
    parts: list[ChosenPart]
    price: float
    utility: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "price": self.price,
            "utility": self.utility,
            "parts": [p.__dict__ for p in self.parts],
        }


def _need(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise DataError(f"{where}: missing {key!r}", field=key)
    return data[key]


#: Money and utilities beyond this are input errors (and would overflow the cents).
LIMIT = 1e9


def _number(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: {value!r} is not a number", field=where)
    if value < minimum:
        raise DataError(f"{where}: {value!r} is below {minimum:g}", field=where)
    if abs(value) > LIMIT:
        raise DataError(f"{where}: {value!r} is above {LIMIT:g}", field=where)
    return float(value)


def _objects(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise DataError(f"{where}: give a list of objects", field=where)
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: {value!r} is not a whole number >= 0", field=where)
    return value


def _pairs(
    data: Mapping[str, Any], key: str, ids: set[str], src: str
) -> tuple[tuple[str, str], ...]:
    out = []
    pairs = data.get(key) or []
    if not isinstance(pairs, list):
        raise DataError(f"{src}{key}: give a list of pairs", field=key)
    for i, pair in enumerate(pairs):
        where = f"{src}{key}[{i}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise DataError(f"{where}: give two part ids", field=where)
        for p in pair:
            if p not in ids:
                raise DataError(f"{where}: {p!r} is not a part of the catalogue", field=where)
        out.append((str(pair[0]), str(pair[1])))
    return tuple(out)


def _boosts(value: Any, src: str) -> dict[str, dict[str, float]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise DataError(f"{src}segment_boosts: give segment -> {{name: bonus}}", field="boosts")
    return {
        str(seg): {
            str(k): _number(v, f"{src}segment_boosts.{seg}.{k}", minimum=-LIMIT)
            for k, v in table.items()
        }
        for seg, table in value.items()
    }


def parse_bundle_catalog(data: Mapping[str, Any], source: str = "") -> BundleCatalog:
    """Check and parse a bundle catalogue.

    Layout::

        {"name": "Café set", "currency": "EUR", "budget": 12,
         "groups": [{"id": "drink", "min": 1, "max": 1}, {"id": "extra", "max": 2}],
         "parts": [{"id": "latte", "group": "drink", "price": 3.6, "category": "Coffee",
                    "item_id": "latte", "stock": 20, "base": 0.1}],
         "incompatible": [["a", "b"]], "requires": [["a", "b"]], "required": ["water"],
         "max_parts": 4, "segment_boosts": {"Champions": {"Pastry": 0.2}}}

    Errors name the file (``source``) and the field, e.g. ``cafe.json: parts[3].price``.
    """
    src = f"{source}: " if source else ""
    if not isinstance(data, Mapping):
        raise DataError(f"{src}a catalogue is a JSON object", field="catalog")
    groups = []
    for i, g in enumerate(_objects(_need(data, "groups", f"{src}catalog"), f"{src}groups")):
        where = f"{src}groups[{i}]"
        gid = str(_need(g, "id", where))
        lo = _count(g.get("min", 0), f"{where}.min")
        hi = None if g.get("max") is None else _count(g["max"], f"{where}.max")
        if hi is not None and hi < lo:
            raise DataError(f"{where}: max {hi} is below min {lo}", field=f"{where}.max")
        groups.append(Group(gid, lo, hi, str(g.get("label", gid))))
    gids = {g.id for g in groups}
    if len(gids) != len(groups):
        raise DataError(f"{src}groups: duplicate group id", field="groups")
    parts = []
    for i, p in enumerate(_objects(_need(data, "parts", f"{src}catalog"), f"{src}parts")):
        where = f"{src}parts[{i}]"
        pid = str(_need(p, "id", where))
        group = str(_need(p, "group", where))
        if group not in gids:
            raise DataError(f"{where}.group: {group!r} is not a declared group", field="group")
        stock = None if p.get("stock") is None else _count(p["stock"], f"{where}.stock")
        parts.append(
            Part(
                id=pid,
                group=group,
                price=round(_number(_need(p, "price", where), f"{where}.price"), 2),
                name=str(p.get("name", pid)),
                category=None if p.get("category") is None else str(p["category"]),
                item_id=None if p.get("item_id") is None else str(p["item_id"]),
                stock=stock,
                base=_number(p.get("base", 0.0), f"{where}.base", minimum=-LIMIT),
            )
        )
    if not parts:
        raise DataError(f"{src}parts: the catalogue has no part", field="parts")
    ids = [p.id for p in parts]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataError(f"{src}parts: duplicate part id {dup[0]!r}", field="parts")
    idset = set(ids)
    listed = data.get("required") or []
    if not isinstance(listed, list):
        raise DataError(f"{src}required: give a list of part ids", field="required")
    required = tuple(str(r) for r in listed)
    for i, r in enumerate(required):
        if r not in idset:
            raise DataError(f"{src}required[{i}]: {r!r} is not a part", field="required")
    budget = data.get("budget")
    max_parts = data.get("max_parts")
    return BundleCatalog(
        name=str(data.get("name", source or "catalogue")),
        parts=tuple(parts),
        groups=tuple(groups),
        incompatible=_pairs(data, "incompatible", idset, src),
        requires=_pairs(data, "requires", idset, src),
        required=required,
        budget=None if budget is None else _number(budget, f"{src}budget"),
        max_parts=None if max_parts is None else _count(max_parts, f"{src}max_parts"),
        currency=str(data.get("currency", "")),
        segment_boosts=_boosts(data.get("segment_boosts"), src),
    )


def read_json_catalog(path: str | Path) -> tuple[Any, str]:
    """A catalogue file's JSON and the name its errors use (errors name the file, the line)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8")), path.name
    except FileNotFoundError:
        raise DataError(f"--catalog: no file {str(path)!r}", field="catalog") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path.name}, line {exc.lineno}: not JSON ({exc.msg})", field="catalog"
        ) from None


def read_bundle_catalog(path: str | Path) -> BundleCatalog:
    """Read a JSON bundle catalogue file (errors name the file and field)."""
    return parse_bundle_catalog(*read_json_catalog(path))


def _cents(x: float) -> int:
    return int(round(x * 100))


def bundle_programme(
    catalog: BundleCatalog, utilities: Sequence[float], budget: float | None
) -> Programme:
    """The 0/1 programme of a catalogue: one variable per part, one named row per constraint."""
    prog = Programme(np.asarray(utilities, dtype=float), presolve=False)
    pos = {p.id: j for j, p in enumerate(catalog.parts)}
    for g in catalog.groups:
        members = {j: 1.0 for j, p in enumerate(catalog.parts) if p.group == g.id}
        if g.min > 0:
            prog.add(f"group '{g.id}' takes at least {g.min}", "group", members, lb=g.min)
        if g.max is not None:
            prog.add(f"group '{g.id}' takes at most {g.max}", "group", members, ub=g.max)
    for a, b in catalog.incompatible:
        prog.add(
            f"'{a}' and '{b}' do not go together", "incompatible", {pos[a]: 1, pos[b]: 1}, ub=1
        )
    for a, b in catalog.requires:
        prog.add(f"'{a}' needs '{b}'", "requires", {pos[a]: 1, pos[b]: -1}, ub=0)
    for r in catalog.required:
        prog.add(f"'{r}' is required", "required", {pos[r]: 1}, lb=1)
    for j, p in enumerate(catalog.parts):
        if p.stock == 0:
            prog.add(f"'{p.id}' is out of stock", "stock", {j: 1}, ub=0)
    if budget is not None:
        prices = {j: float(_cents(p.price)) for j, p in enumerate(catalog.parts)}
        prog.add(
            f"budget {budget:.2f}{' ' + catalog.currency if catalog.currency else ''}",
            "budget",
            prices,
            ub=math.floor(budget * 100 + 1e-6),
        )
    prog.tiebreak = np.array([_cents(p.price) for p in catalog.parts], dtype=float)
    if catalog.max_parts is not None:
        prog.add(
            f"at most {catalog.max_parts} parts",
            "size",
            dict.fromkeys(range(len(catalog.parts)), 1.0),
            ub=catalog.max_parts,
        )
    return prog


def score_parts(catalog: BundleCatalog, taste: Taste) -> list[tuple[float, list[str]]]:
    """Each part's utility for the customer with its reasons."""
    return [
        part_utility(
            taste,
            item_id=p.item_id or p.id,
            category=p.category,
            base=p.base,
            segment_boosts=catalog.segment_boosts,
            part_id=p.id,
        )
        for p in catalog.parts
    ]


def best_bundles(
    catalog: BundleCatalog,
    taste: Taste,
    *,
    budget: float | None = None,
    top: int = 1,
) -> list[Bundle]:
    """The ``top`` distinct bundles of highest utility for the customer within the catalogue's
    constraints (``budget`` overrides the catalogue's). Raises ``Infeasible`` naming the
    constraints that cannot hold together."""
    if top < 1:
        raise DataError("top: ask for at least 1 bundle", field="top")
    if budget is not None:
        budget = _number(budget, "budget")
    scored = score_parts(catalog, taste)
    limit = budget if budget is not None else catalog.budget
    prog = bundle_programme(catalog, [u for u, _ in scored], limit)
    out = []
    for rank, x in enumerate(best(prog, top), 1):
        chosen = [
            ChosenPart(p.id, p.name, p.group, p.price, scored[j][0], scored[j][1])
            for j, p in enumerate(catalog.parts)
            if x[j]
        ]
        out.append(
            Bundle(
                rank=rank,
                parts=chosen,
                price=round(sum(c.price for c in chosen), 2),
                utility=round(sum(c.utility for c in chosen), 6),
            )
        )
    return out


__all__ = [
    "Bundle",
    "BundleCatalog",
    "ChosenPart",
    "Group",
    "Part",
    "best_bundles",
    "bundle_programme",
    "parse_bundle_catalog",
    "read_bundle_catalog",
    "score_parts",
]
