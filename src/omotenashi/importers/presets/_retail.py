"""Preset ``online-retail``: the UCI Online Retail file (one line per invoice line).

* a customer is ``CustomerID``; a line without one is a guest checkout, kept as the anonymous
  visitor ``guest-invoice-<InvoiceNo>`` so that no sale is lost from the store's figures;
* an invoice is an order; ``C``-prefixed invoices and negative quantities are returns;
* items get the most common description as title, the median positive unit price, and
  categories derived from keywords of the description (the file has no categories); the
  non-product codes (postage, fees, manual adjustments) are marked ``is_product: false`` and
  ``recommendable: false`` (so no recommender ever offers them);
* customers get their ``country`` (the most common one on their lines); a guest line keeps its
  country in the event's context.
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

NON_PRODUCT_CODES = {
    "POST",
    "D",
    "M",
    "C2",
    "DOT",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "PADS",
    "S",
    "B",
    "m",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
}

# keyword -> category; a description may name several
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Bags": ("BAG", "BAGS", "SHOPPER", "TOTE"),
    "Candles & lights": (
        "CANDLE",
        "CANDLES",
        "T-LIGHT",
        "TLIGHT",
        "TEALIGHT",
        "LANTERN",
        "LIGHT",
        "LIGHTS",
        "LAMP",
        "CANDLEHOLDER",
    ),
    "Cards & wrapping": (
        "CARD",
        "CARDS",
        "WRAP",
        "ENVELOPE",
        "ENVELOPES",
        "TAGS",
        "RIBBON",
        "RIBBONS",
        "TISSUE",
        "TISSUES",
    ),
    "Kitchen & dining": (
        "MUG",
        "MUGS",
        "CUP",
        "CUPS",
        "SAUCER",
        "PLATE",
        "PLATES",
        "BOWL",
        "BOWLS",
        "TEAPOT",
        "CAKE",
        "CAKESTAND",
        "BAKING",
        "JAR",
        "TRAY",
        "NAPKINS",
        "CUTLERY",
        "SPOON",
        "SPOONS",
        "TEA",
        "COFFEE",
        "BOTTLE",
        "JUG",
        "GLASS",
        "CAKECASES",
        "LUNCH",
        "APRON",
        "CHOPSTICKS",
    ),
    "Home decor": (
        "SIGN",
        "FRAME",
        "CLOCK",
        "CUSHION",
        "DOORMAT",
        "MIRROR",
        "VASE",
        "WREATH",
        "DECORATION",
        "ORNAMENT",
        "HOOK",
        "HOOKS",
        "HANGER",
        "GARLAND",
        "BUNTING",
        "PLAQUE",
        "WALL",
        "DOORSTOP",
        "CURTAIN",
        "THROW",
        "QUILT",
        "BLANKET",
    ),
    "Storage": (
        "BOX",
        "BOXES",
        "BASKET",
        "HOLDER",
        "DRAWER",
        "CASE",
        "TIN",
        "TINS",
        "CRATE",
        "TRUNK",
        "STORAGE",
        "CABINET",
    ),
    "Stationery": (
        "NOTEBOOK",
        "PEN",
        "PENS",
        "PENCIL",
        "PENCILS",
        "STICKER",
        "STICKERS",
        "PAPER",
        "CHALK",
        "ERASER",
        "RUBBER",
        "SKETCHBOOK",
        "MAGNET",
        "CALENDAR",
        "DIARY",
        "NOTEPAD",
        "STAMP",
        "STAMPS",
    ),
    "Toys & games": (
        "TOY",
        "TOYS",
        "GAME",
        "GAMES",
        "DOLL",
        "PUZZLE",
        "DOMINOES",
        "SKITTLES",
        "SPACEBOY",
        "PLAYHOUSE",
        "JIGSAW",
        "TEDDY",
        "SOLDIER",
        "RABBIT",
        "KIT",
    ),
    "Garden": (
        "GARDEN",
        "PLANT",
        "PLANTER",
        "WATERING",
        "PARASOL",
        "BIRD",
        "FLOWER",
        "GNOME",
        "HERB",
    ),
    "Christmas": (
        "CHRISTMAS",
        "XMAS",
        "SANTA",
        "ADVENT",
        "SNOWFLAKE",
        "REINDEER",
        "STOCKING",
        "BAUBLE",
        "NOEL",
    ),
    "Party": ("PARTY", "BALLOON", "BALLOONS", "CONFETTI", "BIRTHDAY", "PIÑATA", "PINATA"),
    "Accessories & jewellery": (
        "NECKLACE",
        "BRACELET",
        "EARRINGS",
        "RING",
        "HAIR",
        "UMBRELLA",
        "PURSE",
        "WALLET",
        "SCARF",
        "HANDBAG",
        "BROOCH",
        "CHARM",
        "KEYRING",
        "HAT",
    ),
    "Bathroom & beauty": ("SOAP", "TOWEL", "TOWELS", "BATH", "WASHBAG", "SPONGE", "COSMETIC"),
}
_WORD = re.compile(r"[A-Z0-9Ñ\-]+")
_KEYWORD_TO_CATEGORY = {k: c for c, words in CATEGORY_KEYWORDS.items() for k in words}
FEES_CATEGORY = "Fees & adjustments"
OTHER_CATEGORY = "Other"


def categories_for(description: str | None, stock_code: str) -> list[str]:
    """Categories of an Online Retail product from the words of its description."""
    if stock_code in NON_PRODUCT_CODES or stock_code.upper() in NON_PRODUCT_CODES:
        return [FEES_CATEGORY]
    if not description:
        return [OTHER_CATEGORY]
    found = dict.fromkeys(
        _KEYWORD_TO_CATEGORY[w]
        for w in _WORD.findall(description.upper())
        if w in _KEYWORD_TO_CATEGORY
    )
    return list(found) or [OTHER_CATEGORY]


def _main_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("Online Retail.parquet", "Online Retail.csv", "online_retail.csv"):
            if (path / name).exists():
                return path / name
        raise DataError(f"{path}: no 'Online Retail.parquet' in this folder")
    return path


def _read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    ids = tuple((c, "str") for c in ("CustomerID", "StockCode", "InvoiceNo"))
    return read_table(path, CsvOptions(sep=",", text=False, dtypes=ids), columns=columns)


def _most_common(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """For each key, its most frequent value (ties: the first in sort order)."""
    counts = frame.groupby([key, value], observed=True).size().reset_index(name="n")
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[value]


def _guest_ids(frame: pd.DataFrame) -> pd.DataFrame:
    customer = frame["CustomerID"]
    missing = customer.isna()
    if not pd.api.types.is_numeric_dtype(customer.dtype):
        missing |= customer.astype(str).str.strip().isin(["", "nan", "NaN"])
    guests = pd.Series(None, index=frame.index, dtype="object")
    guests[missing] = "guest-invoice-" + frame.loc[missing, "InvoiceNo"].astype(str)
    frame["__guest__"] = guests
    # a known customer's country is an attribute of the customer; a guest's goes with the event
    frame["__guest_country__"] = frame["Country"].where(missing)
    return frame


def plan(path: Path) -> ImportPlan:
    main = _main_file(path)

    def items() -> Iterable[dict[str, Any]]:
        frame = _read_columns(main, ["StockCode", "Description", "UnitPrice"])
        frame["StockCode"] = frame["StockCode"].astype(str).str.strip()
        description = frame["Description"]
        frame["Description"] = description.where(~description.isin(["nan", ""]))
        titles = _most_common(frame.dropna(subset=["Description"]), "StockCode", "Description")
        prices = frame[frame["UnitPrice"] > 0].groupby("StockCode")["UnitPrice"].median()
        for code in sorted(frame["StockCode"].unique()):
            title = titles.get(code)
            title = None if title is None else str(title).strip()
            product = code not in NON_PRODUCT_CODES and code.upper() not in NON_PRODUCT_CODES
            yield {
                "item_id": code,
                "title": title,
                "price": None if code not in prices.index else round(float(prices[code]), 2),
                "categories": categories_for(title, code),
                # postage, fees and adjustments are never recommended
                "attributes": {"is_product": product, "recommendable": product},
            }

    def customers() -> Iterable[tuple[str, dict[str, Any]]]:
        frame = _read_columns(main, ["CustomerID", "Country"]).dropna(subset=["CustomerID"])
        ids = pd.to_numeric(frame["CustomerID"], errors="coerce")
        frame = frame[ids.notna()].assign(CustomerID=ids[ids.notna()].astype("int64").astype(str))
        countries = _most_common(frame, "CustomerID", "Country")
        for customer, country in countries.items():
            yield str(customer), {"country": str(country)}

    source = EventSource(
        path=main,
        mapping={
            "customer": "CustomerID",
            "anonymous": "__guest__",
            "item": "StockCode",
            "time": "InvoiceDate",
            "order": "InvoiceNo",
            "quantity": "Quantity",
            "price": "UnitPrice",
            "context.country": "__guest_country__",
        },
        defaults=EventDefaults(type="purchase", channel="web", cancel_prefix="C"),
        transform=_guest_ids,
    )
    return ImportPlan(
        sources=[source], items=items, customers=customers, name=f"online-retail:{main.name}"
    )
