"""The dashboard end to end: a real ``omotenashi serve`` on a real store, driven by a real headless
Chromium. Every page is opened, every chart checked for data, the figures compared with what the
store says when asked another way, and a screenshot of each page saved (``--screenshots DIR``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from omotenashi.services import Omotenashi

pytestmark = pytest.mark.slow


def charts_have_data(page, at_least: int) -> int:
    """Every chart on the page has a title and at least one mark with a non-zero value."""
    charts = page.locator("svg.chart")
    count = charts.count()
    assert count >= at_least, f"{count} charts on {page.url}"
    for i in range(count):
        chart = charts.nth(i)
        assert chart.get_attribute("role") == "img"
        assert chart.locator("title").first.text_content().strip()
        values = chart.locator("[data-value]").evaluate_all(
            "marks => marks.map(m => parseFloat(m.getAttribute('data-value')))"
        )
        assert any(v and v > 0 for v in values), f"chart {i} on {page.url} shows no data"
    return count


def sign_in(page, url: str, token: str) -> None:
    page.goto(url + "/login")
    page.fill("#api_key", token)
    page.press("#api_key", "Enter")
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def truth(shop: Path, server) -> dict:
    """What the store says, asked without the dashboard."""
    with Omotenashi(shop) as om:
        stats = om.stats()
        customers = [f"c{i}" for i in range(80)] + ["c5"]
        segments = pd.Series(
            {c: om.profile(c).scores.get("segment") for c in dict.fromkeys(customers)}
        ).dropna()
        timeline = om.timeline("c1", limit=500).events
        decisions = om.store.decisions.to_frame()
    decisions["reward"] = decisions["reward"].fillna(0.0)
    return {
        "customers": stats["customers"],
        "events": stats["events"],
        "segments": segments.value_counts().to_dict(),
        "c1_events": len(timeline),
        "c1_purchases": sum(e.type == "purchase" for e in timeline),
        "rates": decisions.groupby("variant")["reward"].mean().to_dict(),
    }


def test_every_page_in_chromium(server, keys, browser, screenshots, truth):
    url = server.url
    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    page = admin.new_page()

    # -- sign-in: an ingest key cannot open the dashboard; an admin key can -------------------
    page.goto(url + "/")
    assert "/login" in page.url
    page.screenshot(path=screenshots / "login.png")
    sign_in(page, url, keys["ingest"])
    assert "read or admin" in page.inner_text("#login-error")
    sign_in(page, url, keys["admin"])
    assert page.url == url + "/"
    cookie = next(c for c in admin.cookies() if c["name"] == "omotenashi_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert keys["admin"] not in cookie["value"]  # the session holds the key id, not the secret

    # -- overview -----------------------------------------------------------------------------
    assert page.inner_text("#kpi-customers") == f"{truth['customers']:,}"
    assert page.inner_text("#kpi-events") == f"{truth['events']:,}"
    assert page.inner_text("#kpi-decisions") == "300"
    assert charts_have_data(page, 2) == 2
    assert "recent_ease" in page.inner_text("#models-h + div table")
    # times to the minute, as people read them (not 2026-...T22:34:05.701504+00:00)
    newest = page.inner_text("#newest-model")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", newest), newest
    saved = page.locator("#models-h + div table tbody td:nth-child(3)").all_inner_texts()
    assert newest == max(saved), saved  # the newest of the models table's saved times
    page.screenshot(path=screenshots / "overview.png", full_page=True)

    # -- keyboard: the skip link comes first and lands on the content; the nav works ------------
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(url + "/")
    for _ in range(3):  # skip link, brand, "Overview"
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Customer 360"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/customers")

    # -- Customer 360: search by e-mail, open the person, filter the timeline ------------------
    page.fill("#q", "hana@example.com")
    page.press("#q", "Enter")
    page.wait_for_load_state()
    results = page.locator("ul.results li")
    assert results.count() == 1 and "email hana@example.com" in results.first.inner_text()
    page.click("ul.results a")
    page.wait_for_load_state()
    assert page.inner_text("#customer-id") == "c1"
    assert page.locator("#timeline tbody tr").count() == min(25, truth["c1_events"])
    assert "Kyoto" in page.inner_text("#profile-h + dl")
    assert page.locator("ol.recs > li").count() == 10
    assert page.locator("ol.recs li ul li").count() >= 1  # the reasons
    for key in ("consent", "next-best-actions", "recalls", "goals", "brief"):
        assert page.locator(f'[data-section="{key}"]').count() == 1
    charts_have_data(page, 1)
    page.screenshot(path=screenshots / "customer-360.png", full_page=True)
    page.select_option("#f-type", "purchase")
    page.click("form.filters button")
    page.wait_for_load_state()
    kinds = page.locator("#timeline tbody tr td:nth-child(2)").all_inner_texts()
    assert kinds == ["purchase"] * truth["c1_purchases"]
    # by a device id and by an attribute word
    page.goto(url + "/customers?q=phone-device-1")
    assert page.locator("ul.results a").all_inner_texts() == ["c1"]
    page.goto(url + "/customers?q=osaka")
    assert page.locator("ul.results a").all_inner_texts() == ["c2"]

    # -- the customer's own link: opened without any session -----------------------------------
    page.goto(url + "/customer?id=c1")
    page.click("#make-link")
    page.wait_for_load_state()
    link = page.get_attribute("#self-link", "href")
    assert link and link.startswith(url + "/me/")
    visitor = browser.new_context(viewport={"width": 390, "height": 844})
    own = visitor.new_page()
    own.goto(link)
    assert own.inner_text("h1") == "What we hold about you"
    body = own.inner_text("main")
    assert "c1" in body and "Kyoto" in body and "hana@example.com" in body
    assert own.locator("ol.recs > li").count() == 10
    assert own.locator('[data-section="consent"]').count() == 1
    own.screenshot(path=screenshots / "customer-own-page-phone.png", full_page=True)
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert own.goto(tampered).status == 404
    visitor.close()

    # -- segments and value ----------------------------------------------------------------------
    page.goto(url + "/segments")
    assert charts_have_data(page, 5) == 5
    rows = page.locator("#segments tbody tr")
    shown = {
        rows.nth(i).locator("td").nth(0).inner_text(): int(
            rows.nth(i).locator("td").nth(1).inner_text().replace(",", "")
        )
        for i in range(rows.count())
    }
    assert shown == truth["segments"]
    page.screenshot(path=screenshots / "segments.png", full_page=True)
    biggest = max(shown, key=shown.get)
    page.click(f"a[href='/segments/members?segment={biggest.replace(' ', '%20')}']")
    page.wait_for_load_state()
    assert page.locator("#members tbody tr").count() == min(50, shown[biggest])
    page.screenshot(path=screenshots / "segment-members.png", full_page=True)
    csv = page.request.get(url + "/segments/export.csv")
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text().strip().splitlines()
    assert lines[0].startswith("customer_id,segment") and len(lines) - 1 == sum(shown.values())

    # -- decisions and experiments -------------------------------------------------------------
    page.goto(url + "/decisions")
    charts_have_data(page, 1)
    cells = page.locator("#point-hero table.variants tbody tr")
    assert cells.count() == 2
    for i, variant in enumerate(("a", "b")):
        row = cells.nth(i).locator("td")
        assert row.nth(0).inner_text().split()[0] == variant
        assert row.nth(3).inner_text() == f"{truth['rates'][variant]:.3f}"
    page.screenshot(path=screenshots / "decisions.png", full_page=True)

    # -- trust: import history with its rejected row; an audit run by an admin ----------------
    page.goto(url + "/trust")
    warn = page.locator("#imports tbody tr.warn")
    assert warn.count() == 1 and warn.locator("td").nth(6).inner_text() == "1"
    # each import's bar is named by its file, not by the tail of its folder path
    ticks = page.locator('section[aria-labelledby="imports-h"] svg text').all_text_contents()
    assert "more.csv" in ticks, ticks
    # a form without the session's CSRF token is refused, also for an admin
    assert page.request.post(url + "/trust/audit", form={"csrf": "forged"}).status == 403
    page.click("#run-audit")
    page.wait_for_load_state()
    assert page.inner_text("#audit-verdict")
    assert charts_have_data(page, 2) >= 2  # the audit's figures, rejected rows per import
    assert "Audit figures between 0 and 1" in page.inner_html("main")
    # each figure's name is written in full, inside the chart and left of its bar
    figures = page.locator('svg[data-chart="hbar"]')
    assert figures.count() == 1
    labels = figures.locator('text[text-anchor="end"]').evaluate_all(
        "ts => ts.map(t => { const b = t.getBBox(); return [t.textContent, b.x, b.x + b.width]; })"
    )
    left = min(figures.locator("rect.bar").evaluate_all("rs => rs.map(r => r.x.baseVal.value)"))
    named = set(page.locator("#audit-h ~ details th").all_text_contents())
    assert len(labels) >= 5 and {t for t, _, _ in labels} <= named, (labels, named)
    assert any(len(t) > 12 for t, _, _ in labels)  # names that a vertical bar's room cut
    for text, start, end in labels:
        assert "…" not in text and start >= 0 and end <= left, (text, start, end, left)
    # the access log: this session opened c1's 360 view above, under the admin key's id
    log = page.locator('[data-section="access-log"] tbody tr')
    rows = [log.nth(i).inner_text().split("\t") for i in range(log.count())]
    assert any(r[2] == "read.profile" and r[3] == "c1" for r in rows), rows
    exported = page.request.get(url + "/trust/access-log.csv")
    assert exported.status == 200 and "read.profile,c1" in exported.text()
    page.screenshot(path=screenshots / "trust.png", full_page=True)

    # -- a phone-sized screen: nothing runs off the side ----------------------------------------
    phone = browser.new_context(viewport={"width": 390, "height": 844},
                                storage_state=admin.storage_state())  # fmt: skip
    small = phone.new_page()
    for path, name in (("/", "overview-phone"), ("/customer?id=c1", "customer-360-phone")):
        small.goto(url + path)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path} is {width}px wide on a 390px screen"
        small.screenshot(path=screenshots / f"{name}.png", full_page=True)
    phone.close()
    admin.close()


def test_read_only_sessions_and_the_workspace_switcher(server, keys, browser):
    url = server.url
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, url, keys["read"])
    page.goto(url + "/trust")
    assert page.locator("#run-audit").count() == 0  # no admin action is offered
    # who read whose data is for admins only
    assert page.locator('[data-section="access-log"] table').count() == 0
    assert page.request.get(url + "/trust/access-log.csv").status == 403
    csrf = page.get_attribute("input[name=csrf]", "value")
    refused = page.request.post(url + "/trust/audit", form={"csrf": csrf})
    assert refused.status == 403 and "admin" in refused.text()
    # a key of another workspace adds it to the session; the switcher moves between them
    sign_in(page, url, keys["branch"])
    assert page.locator("#workspace-switch option").all_inner_texts() == ["branch", "default"]
    assert "workspace branch" in page.inner_text("footer")
    assert page.inner_text("#kpi-customers") == "0"  # branch is empty: nothing of default
    page.select_option("#workspace-switch", "default")
    page.click("form[action='/workspace'] button")
    page.wait_for_load_state()
    assert "workspace default" in page.inner_text("footer")
    assert page.inner_text("#kpi-customers") != "0"
    page.click("text=Sign out")
    page.wait_for_load_state()
    assert "/login" in page.url
    page.goto(url + "/segments")
    assert "/login" in page.url  # the session ended
    context.close()


def test_sessions_headers_and_revocation_over_plain_http(server, keys, shop):
    import time

    import httpx

    from omotenashi.services import ServiceSettings, key_store

    url = server.url
    with httpx.Client(base_url=url) as anonymous:
        to_login = anonymous.get("/segments?x=1")
        assert to_login.status_code == 303
        assert to_login.headers["location"] == "/login?next=%2Fsegments%3Fx%3D1"
        assert anonymous.get("/customer?id=c1").status_code == 303  # no data without a session
        assert anonymous.get("/segments/export.csv").status_code == 303
        assert anonymous.get("/me/not-a-link").status_code == 404
    store = key_store(ServiceSettings(db=str(shop)))
    try:
        made = store.create("default", ["read"], label="to revoke")
        with httpx.Client(base_url=url) as client:
            signed = client.post("/login", data={"api_key": made.token, "next": "//elsewhere"})
            assert (
                signed.status_code == 303 and signed.headers["location"] == "/"
            )  # no open redirect
            cookie = signed.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            page = client.get("/")
            assert page.status_code == 200
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
            assert "<script" not in page.text and "http://" not in page.text.split("<body")[0]
            store.revoke(made.info.key_id)
            deadline = time.monotonic() + 15
            while client.get("/").status_code == 200:  # the server trusts a key for 5 s
                assert time.monotonic() < deadline, "a revoked key still opens the dashboard"
                time.sleep(0.5)
            assert client.get("/").headers["location"].startswith("/login")
    finally:
        store.close()
