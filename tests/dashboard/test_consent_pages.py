"""Consent and preferences on the dashboard, end to end: a real ``omotenashi serve`` on a real
store, a real headless Chromium. The customer opens their own link, says "not interested" in a
recommended item and turns personalization off with the keyboard, withdraws a consent; the
recommendations shown are compared with what the store answers when asked from another
process, and staff see the change on the Customer 360 and the trust page.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from omotenashi.services import Omotenashi

pytestmark = pytest.mark.slow


def sign_in(page, url: str, token: str) -> None:
    page.goto(url + "/login")
    page.fill("#api_key", token)
    page.press("#api_key", "Enter")
    page.wait_for_load_state()


def shown(page) -> list[str]:
    return page.locator("ol.recs > li > strong").all_inner_texts()


def expected(shop: Path, customer: str) -> list[str]:
    """The customer's recommendations asked from this process, not through the server."""
    with Omotenashi(shop) as om:
        return [r.item_id for r in om.recommendations.for_customer(customer, 10)]


def unlabelled(page, scope: str) -> list[str]:
    """Form fields of ``scope`` without a label naming them (ids of those)."""
    return page.locator(f"{scope} input:not([type=hidden]), {scope} select").evaluate_all(
        "els => els.filter(e => !(e.labels && e.labels.length && e.labels[0].textContent.trim()))"
        ".map(e => e.id || e.name)"
    )


def test_the_customer_changes_their_preferences_and_consent(
    server, keys, browser, screenshots, shop
):
    url = server.url
    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = staff.new_page()
    sign_in(desk, url, keys["admin"])
    desk.goto(url + "/customer?id=c3")
    desk.click("#make-link")
    desk.wait_for_load_state()
    link = desk.get_attribute("#self-link", "href")
    assert link and link.startswith(url + "/me/")
    token = link.rsplit("/", 1)[1]

    visitor = browser.new_context(viewport={"width": 900, "height": 1000})
    own = visitor.new_page()
    own.goto(link)
    for key in ("consent", "preferences"):
        section = own.locator(f'[data-section="{key}"]')
        assert section.count() == 1 and section.locator(".extension").count() == 0
    assert unlabelled(own, '[data-section="consent"]') == []
    assert unlabelled(own, '[data-section="preferences"]') == []
    before = shown(own)
    assert len(before) == 10 and before == expected(shop, "c3")
    assert "are personal" in own.inner_text("#personalization-note")
    # the item select offers exactly the items shown
    offered = own.locator("#ni-item option").all_inner_texts()[1:]
    assert offered == before

    # -- "not interested" in the top item, with the keyboard only ------------------------------
    own.focus("#ni-item")
    own.keyboard.press("ArrowDown")  # the first item shown
    assert own.input_value("#ni-item") == before[0]
    own.keyboard.press("Tab")
    assert own.evaluate("document.activeElement.id") == "ni-category"
    own.keyboard.press("Tab")
    assert own.evaluate("document.activeElement.id") == "not-interested"
    with own.expect_navigation():
        own.keyboard.press("Enter")
    after = shown(own)
    assert before[0] not in after and len(after) == 10
    assert after == expected(shop, "c3")  # what the store answers now, asked elsewhere
    assert before[0] in own.inner_text("#dislikes")
    own.screenshot(path=screenshots / "own-page-not-interested.png", full_page=True)

    # -- personalization off (keyboard: the radio, then the save button) -----------------------
    own.focus("#level-off")
    own.keyboard.press("Space")
    own.focus("#save-preferences")
    with own.expect_navigation():
        own.keyboard.press("Enter")
    own.reload()
    note = own.inner_text("#personalization-note")
    assert "not personalized" in note and "you turned personalization off" in note
    plain = shown(own)
    assert plain == expected(shop, "c3") and plain != after
    assert before[0] not in plain  # "not interested" holds in every mode
    with Omotenashi(shop) as om:
        assert om.preferences.get("c3").level == "off"
        assert before[0] in om.preferences.get("c3").dislikes.items
        stranger = [r.item_id for r in om.recommendations.for_customer("someone-new", 11)]
    assert plain == [i for i in stranger if i != before[0]][:10]  # the popular items

    # -- withdraw marketing -------------------------------------------------------------------
    row = own.locator('#own-consent tr[data-purpose="marketing"]')
    assert row.locator("td.state").inner_text().startswith("Allowed")
    with own.expect_navigation():
        own.click("#consent-marketing")
    assert row.locator("td.state").inner_text().startswith("Not allowed")
    assert own.inner_text("#consent-marketing").startswith("Allow")
    own.screenshot(path=screenshots / "own-page-consent-withdrawn.png", full_page=True)
    own.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing runs off the side
    assert own.evaluate("document.documentElement.scrollWidth") <= 391
    own.locator('[data-section="preferences"]').screenshot(
        path=screenshots / "own-page-preferences-phone.png"
    )

    # -- forged or wrong forms change nothing --------------------------------------------------
    forged = own.request.post(link + "/consent", form={"csrf": "x", "purpose": "analytics",
                                                       "granted": "no"})  # fmt: skip
    assert forged.status == 403
    csrf = own.get_attribute('#own-consent input[name="csrf"]', "value")
    unknown = own.request.post(link + "/consent", form={"csrf": csrf, "purpose": "lottery",
                                                        "granted": "no"})  # fmt: skip
    assert unknown.status == 422 and "lottery" in unknown.text()
    hours = own.request.post(link + "/preferences", form={"csrf": csrf, "level": "full",
                                                          "quiet_start": "22"})  # fmt: skip
    assert hours.status == 422 and "quiet hours" in hours.text()
    other = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert own.request.post(f"{url}/me/{other}/consent", form={"csrf": csrf}).status == 404
    visitor.close()

    # -- staff see it on the Customer 360 -----------------------------------------------------
    desk.goto(url + "/customer?id=c3")
    now = desk.locator('#consent-now tr[data-purpose="marketing"] td').all_inner_texts()
    assert now[1:3] == ["no", "yes"] and now[4] == "dashboard"
    latest = desk.locator("#consent-history tbody tr").first.locator("td").all_inner_texts()
    assert latest[1:] == ["marketing", "withdrawn", "dashboard"]
    assert desk.inner_text("#preferences-now").count(before[0]) == 1
    assert "off" in desk.inner_text("#staff-personalization")
    section = desk.locator('[data-section="consent"]')
    assert unlabelled(desk, '[data-section="consent"]') == []
    section.screenshot(path=screenshots / "customer-360-consent.png")

    # -- trust: the coverage agrees with the store asked customer by customer ------------------
    with Omotenashi(shop) as om:
        people = om.store.consent.people()
        truth = {p: sum(om.consent.allows(c, p) for c in people) for p in om.consent.purposes()}
    desk.goto(url + "/trust")
    for purpose, allowing in truth.items():
        cells = desk.locator(f'#consent-coverage tr[data-purpose="{purpose}"] td')
        assert int(cells.nth(1).inner_text().replace(",", "")) == allowing
    assert truth["marketing"] == len(people) - 1 and truth["analytics"] == len(people)
    chart = desk.locator('[data-section="consent-coverage"] svg.chart')
    assert chart.count() == 1
    desk.locator('[data-section="consent-coverage"]').screenshot(
        path=screenshots / "trust-consent-coverage.png"
    )
    staff.close()


def test_staff_record_an_answer_only_with_admin(server, keys, shop):
    url = server.url
    with httpx.Client(base_url=url) as reader:
        reader.post("/login", data={"api_key": keys["read"]})
        page = reader.get("/customer", params={"id": "c2"})
        assert page.status_code == 200 and 'id="staff-record"' not in page.text
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = reader.post(
            "/customer/consent",
            data={"csrf": csrf, "id": "c2", "purpose": "analytics", "granted": "no"},
        )
        assert refused.status_code == 403
    with httpx.Client(base_url=url) as admin:
        admin.post("/login", data={"api_key": keys["admin"]})
        page = admin.get("/customer", params={"id": "c2"})
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert (
            admin.post(
                "/customer/consent", data={"csrf": "no", "id": "c2", "purpose": "analytics"}
            ).status_code
            == 403
        )
        done = admin.post(
            "/customer/consent",
            data={"csrf": csrf, "id": "c2", "purpose": "analytics", "granted": "no"},
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/customer?id=c2")
    with Omotenashi(shop) as om:
        history = om.consent.history("c2")
        assert [(h["purpose"], h["granted"], h["source"]) for h in history] == [
            ("analytics", False, "dashboard")
        ]
        assert history[0]["key_id"]  # the admin key that recorded it


def _own_link(url: str, admin_key: str, customer: str) -> str:
    with httpx.Client(base_url=url) as admin:
        admin.post("/login", data={"api_key": admin_key})
        page = admin.get("/customer", params={"id": customer})
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        made = admin.post("/customer/link", data={"csrf": csrf, "id": customer})
        shown = admin.get(made.headers["location"]).text
        return shown.split('id="self-link" href="', 1)[1].split('"', 1)[0]


def test_the_preference_form_over_http(server, keys, shop):
    link = _own_link(server.url, keys["admin"], "c4")
    with httpx.Client() as visitor:
        page = visitor.get(link)
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        # a bad field is named and nothing is written
        bad = visitor.post(link + "/preferences", data={"csrf": csrf, "level": "full",
                                                         "time_zone": "Mars/Olympus"})  # fmt: skip
        assert bad.status_code == 422 and "time_zone" in bad.text
        bad = visitor.post(link + "/preferences", data={"csrf": csrf, "level": "full",
                                                         "frequency:email": "two"})  # fmt: skip
        assert bad.status_code == 422 and "frequency:email" in bad.text
        with Omotenashi(shop) as om:
            assert om.preferences.get("c4").is_default()
            favourite = om.profile("c4").top_categories[0].category
        # the whole form: light, no SMS, two e-mails a week, quiet 22:00-07:00 in Paris
        form = {"csrf": csrf, "level": "light", "channel:email": "on", "channel:push": "on",
                "channel:call": "on", "channel:post": "on", "frequency:email": "2",
                "quiet_start": "22", "quiet_end": "7", "time_zone": "Europe/Paris"}  # fmt: skip
        saved = visitor.post(link + "/preferences", data=form)
        assert saved.status_code == 303 and saved.headers["location"].endswith("#x-preferences-h")
        # not interested in the customer's favourite kind of item, then undone
        assert visitor.post(link + "/not-interested", data={"csrf": csrf}).status_code == 422
        done = visitor.post(link + "/not-interested", data={"csrf": csrf, "category": favourite})
        assert done.status_code == 303
        with Omotenashi(shop) as om:
            prefs = om.preferences.get("c4")
            assert prefs.level == "light" and prefs.quiet_hours == (22, 7)
            assert prefs.time_zone == "Europe/Paris" and prefs.frequency == {"email": 2}
            assert prefs.channels == {"email": True, "sms": False, "push": True, "call": True,
                                      "post": True}  # fmt: skip
            assert prefs.dislikes.categories == (favourite,)
            items = {i["item_id"]: i for i in om.items_frame().to_dict("records")}
            expected_items = [r.item_id for r in om.recommendations.for_customer("c4", 10)]
        page = visitor.get(link).text
        assert "only lightly personalized" in page and "you chose light" in page
        listed = [
            chunk.split("</strong>", 1)[0]
            for chunk in page.split('<ol class="recs">', 1)[1]
            .split("</ol>", 1)[0]
            .split("<strong>")[1:]
        ]
        assert listed == expected_items
        assert all(favourite not in list(items[i]["categories"]) for i in listed)
        undo = visitor.post(
            link + "/not-interested/undo", data={"csrf": csrf, "category": favourite}
        )
        assert undo.status_code == 303
    with Omotenashi(shop) as om:
        assert om.preferences.get("c4").dislikes.categories == ()
        assert om.preferences.get("c4").level == "light"  # the rest is kept
