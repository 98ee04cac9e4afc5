"""Request and response bodies of the HTTP API.

Requests reuse the data model (``Event``, ``Item``, ``CustomerRecord``) so the service accepts
exactly what the Python API accepts; responses reuse ``Profile`` and ``TimelinePage``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from starlette.datastructures import QueryParams

from omotenashi.events import Event, Item, clean_id

MAX_ITEMS_IN_REQUEST = 10_000


def _clean_id(value: object, info: ValidationInfo) -> object:
    """The one id rule of writes (trimmed, no control characters), for ids a request reads."""
    return clean_id(value, info.field_name or "id") if isinstance(value, str) else value


#: An id in a request body: cleaned as on write, then 1 to 200 characters.
IdText = Annotated[str, BeforeValidator(_clean_id), Field(min_length=1, max_length=200)]


class EventBatch(BaseModel):
    """Several events written in one transaction: all of them, or none."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=MAX_ITEMS_IN_REQUEST)


def _event_or_batch(value: Any) -> str:
    if isinstance(value, dict) and "events" in value:
        return "batch"
    return "event"


#: The body of ``POST /v1/events``: one event, or ``{"events": [...]}``.
EventsIn = Annotated[
    Annotated[Event, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_event_or_batch),
]


#: Validator of the ``POST /v1/events`` body, built once (the route reads the raw body).
EVENTS_IN: TypeAdapter[Any] = TypeAdapter(EventsIn)
_COMPONENTS = "#/components/schemas/{model}"


def _events_body() -> dict[str, Any]:
    schema = EVENTS_IN.json_schema(ref_template=_COMPONENTS)
    schema.pop("$defs", None)
    schema["title"] = "Body"
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


#: ``openapi_extra`` of ``POST /v1/events``: the body schema FastAPI would have written.
EVENTS_BODY: dict[str, Any] = _events_body()


class RecommendationQuery(BaseModel):
    """The query of ``GET /v1/customers/{customer_id}/recommendations``.

    The route reads it with :func:`recommendation_query` instead of declaring seven ``Query``
    parameters: FastAPI validates declared parameters one by one, with a fresh look at each
    one's type on every request, which cost 0.06-0.1 ms a request, as much as reading the
    person and their consent from the store. One model validation gives the same values and
    the same errors (``tests/api/test_recommendation_query.py`` compares both with FastAPI's).
    """

    n: int = Field(10, ge=1, le=100, description="number of items")
    category: list[str] | None = Field(
        None, max_length=50, description="only items in these categories"
    )
    exclude_category: list[str] | None = Field(None, max_length=50)
    exclude: list[str] | None = Field(None, max_length=500, description="item ids")
    diversity: float = Field(0.0, ge=0, lt=1, description="0 = off, 0.3 = gentle")
    include_seen: bool = Field(False, description="allow items already seen")
    explain: bool = Field(False, description="attach the reasons")


_QUERY_LISTS = frozenset({"category", "exclude_category", "exclude"})
_QUERY_NAMES = frozenset(RecommendationQuery.model_fields)


def recommendation_query(params: QueryParams) -> RecommendationQuery:
    """The recommendations query of a request's query parameters (a list parameter takes every
    value given, any other the last), as FastAPI reads declared ``Query`` parameters; unknown
    names are ignored.

    Raises
    ------
    fastapi.exceptions.RequestValidationError
        A bad value, located at ``("query", name, ...)`` like FastAPI's own (a 422 answer).
    """
    data: dict[str, Any] = {}
    for name in params:
        if name in _QUERY_NAMES:
            data[name] = params.getlist(name) if name in _QUERY_LISTS else params[name]
    try:
        return RecommendationQuery.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None


def _query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    out = []
    for name, field in schema["properties"].items():
        parameter = {"name": name, "in": "query", "required": False, "schema": field}
        if "description" in field:
            parameter["description"] = field["description"]
        out.append(parameter)
    return {"parameters": out}


#: ``openapi_extra`` of the recommendations route: the query parameters FastAPI would have
#: written for them declared one by one.
RECOMMENDATION_PARAMETERS: dict[str, Any] = _query_parameters(RecommendationQuery)


def body_components() -> dict[str, Any]:
    """Component schemas referred to by bodies read raw (``Event``, ``EventBatch``)."""
    return EVENTS_IN.json_schema(ref_template=_COMPONENTS).get("$defs", {})


def validation_responses() -> dict[int | str, dict[str, Any]]:
    """The 422 answer FastAPI documents for routes with parameters (for raw-body routes)."""
    ref = {"$ref": "#/components/schemas/HTTPValidationError"}
    content = {"application/json": {"schema": ref}}
    return {422: {"description": "Validation Error", "content": content}}


class EventAck(BaseModel):
    event_id: str
    stored: bool = Field(description="false: an event with this id was already stored (ignored)")


class EventsOut(BaseModel):
    """Acknowledgement, sent only after the events are durably written."""

    received: int
    stored: int
    duplicates: int
    results: list[EventAck]


class IdentifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: IdText
    anonymous_id: IdText | None = None
    identities: dict[
        Annotated[str, Field(min_length=1, max_length=64)],
        Annotated[str, Field(min_length=1, max_length=320)],
    ] = Field(default_factory=dict, description='e.g. {"email": "ann@example.com"}')


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: IdText
    identity: str = Field(min_length=1, max_length=320)
    kind: str = Field(default="anonymous", min_length=1, max_length=64)


class Link(BaseModel):
    kind: str
    value: str


class LinkOut(BaseModel):
    customer_id: str
    linked: list[Link]
    already_linked: list[Link]
    conflicts: list[dict[str, str]]


class ItemIn(BaseModel):
    """An item's fields (the id comes from the path)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=20_000)
    price: float | None = None
    categories: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    tags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ItemBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS_IN_REQUEST)


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Any] = Field(description="merged into the stored attributes")


class Changed(BaseModel):
    changed: int


class ReasonOut(BaseModel):
    kind: str
    text: str
    items: list[str]
    weight: float = Field(description="the part of the score this reason carries")


class RecommendationOut(BaseModel):
    rank: int
    item_id: str
    score: float
    reasons: list[ReasonOut] | None = Field(default=None, description="with explain=true")
    explained: float | None = Field(
        default=None,
        description="share of the score the reasons' weights add up to (1.0: the model's "
        "reasons are its exact decomposition); with explain=true",
    )
    why: str | None = Field(
        default=None,
        description='"why am I seeing this?" in plain words, from the reasons; with explain=true',
    )


class RecommendationsOut(BaseModel):
    model: str | None = Field(description="model and version that answered (name:vN)")
    customer_id: str | None = None
    item_id: str | None = None
    context: list[str] = Field(
        default_factory=list, description="items of the live visit used as context"
    )
    personalized: bool = Field(
        default=True,
        description="false: nothing of the customer's history was used (no consent to "
        "personalization, or personalization off); see personalization.reason",
    )
    personalization: dict[str, str | None] = Field(
        default_factory=lambda: {"mode": "full", "reason": None},
        description="mode (full, light: stated interests and the visit only, off) and why it "
        "is not full",
    )
    recommendations: list[RecommendationOut]


class SessionIn(BaseModel):
    """An anonymous visit: items seen so far (oldest first) and/or the visitor's anonymous id.

    With an ``anonymous_id``, the items its events brought in this visit are added first.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    anonymous_id: IdText | None = None
    items: list[IdText] = Field(default_factory=list, max_length=1000)
    n: int = Field(default=10, ge=1, le=100)
    explain: bool = False
    include_categories: list[str] | None = Field(default=None, max_length=100)
    exclude_categories: list[str] = Field(default_factory=list, max_length=100)
    exclude_items: list[str] = Field(default_factory=list, max_length=1000)
    exclude_seen: bool = False
    context: dict[str, Any] = Field(
        default_factory=dict, description="channel, device ... (kept for the decision layer)"
    )


class Health(BaseModel):
    status: str


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[str] = Field(min_length=1, max_length=3)
    label: str | None = Field(default=None, max_length=200)


class KeyOut(BaseModel):
    key_id: str
    workspace: str
    scopes: list[str]
    label: str | None
    created_at: float
    revoked_at: float | None = None
    token: str | None = Field(default=None, description="shown once, at creation")


class TrainingOut(BaseModel):
    started: bool
    status: dict[str, Any]
