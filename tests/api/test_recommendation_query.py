"""The recommendations route reads its query with one model (``recommendation_query``) instead of
seven declared ``Query`` parameters: the same values, the same 422 answers and the same OpenAPI
parameters as FastAPI gives for the declared ones, compared here with a route that still
declares them."""

from __future__ import annotations

import warnings
from typing import Annotated

import pytest
from fastapi import FastAPI, Query, Request
from starlette.datastructures import QueryParams

from omotenashi.api import ServiceSettings, create_app
from omotenashi.api._schemas import RecommendationQuery, recommendation_query

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

reference = FastAPI()


@reference.get("/declared/{customer_id}")
def declared(
    customer_id: str,
    n: Annotated[int, Query(ge=1, le=100, description="number of items")] = 10,
    category: Annotated[
        list[str] | None, Query(max_length=50, description="only items in these categories")
    ] = None,
    exclude_category: Annotated[list[str] | None, Query(max_length=50)] = None,
    exclude: Annotated[list[str] | None, Query(max_length=500, description="item ids")] = None,
    diversity: Annotated[float, Query(ge=0, lt=1, description="0 = off, 0.3 = gentle")] = 0.0,
    include_seen: Annotated[bool, Query(description="allow items already seen")] = False,
    explain: Annotated[bool, Query(description="attach the reasons")] = False,
) -> dict:
    """The route as it was declared before (what FastAPI reads and documents for it)."""
    return {
        "n": n,
        "category": category,
        "exclude_category": exclude_category,
        "exclude": exclude,
        "diversity": diversity,
        "include_seen": include_seen,
        "explain": explain,
    }


@reference.get("/read/{customer_id}")
def read(customer_id: str, request: Request) -> dict:
    return recommendation_query(request.query_params).model_dump()


QUERIES = [
    "",
    "n=5",
    "n=0",
    "n=101",
    "n=abc",
    "n=1.5",
    "n=",
    "n=5&n=7",
    "n=7&n=500",
    "category=a&category=b",
    "category=",
    "category=" + "&category=".join(map(str, range(51))),
    "exclude_category=x&exclude_category=y",
    "exclude=" + "&exclude=".join(map(str, range(500))),
    "exclude=" + "&exclude=".join(map(str, range(501))),
    "diversity=0.3",
    "diversity=1",
    "diversity=-0.1",
    "diversity=nan",
    "diversity=inf",
    "include_seen=true",
    "include_seen=no",
    "include_seen=maybe",
    "explain=1",
    "explain=on",
    "explain=2",
    "unknown=1&n=3",
    "n=0&diversity=2&include_seen=x",
    "exclude=a&exclude=b&n=3&explain=true&category=tea",
    "exclude=%20a%2Fb&category=%E3%81%8A%E8%8C%B6",
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(reference)


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_values_and_errors_as_declared_parameters(client, query) -> None:
    want = client.get(f"/declared/c1?{query}")
    got = client.get(f"/read/c1?{query}")
    assert got.status_code == want.status_code, (query, got.json(), want.json())
    assert got.json() == want.json(), query
    if want.status_code == 422:  # the errors name the parameter, as FastAPI's do
        assert all(e["loc"][:1] == ["query"] for e in got.json()["detail"])


def test_values_are_the_route_defaults_and_last_scalar_wins() -> None:
    assert recommendation_query(QueryParams("")) == RecommendationQuery()
    assert RecommendationQuery().n == 10 and RecommendationQuery().exclude is None
    q = recommendation_query(QueryParams("n=3&n=4&exclude=a&exclude=b&include_seen=1"))
    assert (q.n, q.exclude, q.include_seen) == (4, ["a", "b"], True)


def test_the_openapi_parameters_are_those_fastapi_writes(tmp_path) -> None:
    want = reference.openapi()["paths"]["/declared/{customer_id}"]["get"]["parameters"]
    app = create_app(ServiceSettings(db=str(tmp_path / "shop.db")))
    operation = app.openapi()["paths"]["/v1/customers/{customer_id}/recommendations"]["get"]
    got = operation["parameters"]
    assert [p["name"] for p in got] == [p["name"] for p in want]
    assert got[1:] == want[1:]  # the query parameters; the path's id is the API's own type
    assert got[0]["in"] == "path" and got[0]["name"] == "customer_id"
    assert "422" in operation["responses"]
