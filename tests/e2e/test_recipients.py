"""Users, preferences, quiet hours, suppressions and unsubscribe, through HTTP and a browser."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx

from tests.browser import chromium_page
from tests.e2e.conftest import LocalHerald, wait_for


def _user(client: httpx.Client, **fields: Any) -> str:
    user_id = f"u_{uuid.uuid4().hex[:10]}"
    email = f"{user_id}@example.com"
    response = client.put(f"/v1/users/{user_id}", json={"email": email, **fields})
    assert response.status_code == 200, response.text
    return user_id


def _send(client: httpx.Client, user_id: str, subject: str, **fields: Any) -> str:
    body = {
        "recipients": [{"user_id": user_id}],
        "content": {"email": {"subject": subject, "text": "Hello"}},
        **fields,
    }
    response = client.post("/v1/notifications", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _delivery(client: httpx.Client, notification_id: str) -> dict[str, Any]:
    """The notification's one delivery; an empty dict before dispatch has created it."""
    deliveries = client.get(f"/v1/notifications/{notification_id}").json()["deliveries"]
    return dict(deliveries[0]) if deliveries else {}


def _outbox(herald: LocalHerald, subject: str) -> list[dict[str, Any]]:
    return [m for m in httpx.get(f"{herald.url}/_dev/outbox").json() if m["subject"] == subject]


def _settled(client: httpx.Client, notification_id: str) -> dict[str, Any] | None:
    delivery = _delivery(client, notification_id)
    return delivery if delivery.get("status") not in (None, "queued", "sending") else None


def test_a_user_opted_out_of_marketing_gets_transactional_email_only(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    user_id = _user(client)
    client.put(f"/v1/users/{user_id}/preferences", json={"categories": {"marketing": False}})
    tag = uuid.uuid4().hex[:8]

    # when
    marketing = _send(client, user_id, f"Sale {tag}", category="marketing")
    receipt = _send(client, user_id, f"Receipt {tag}", category="transactional")

    # then
    wait_for(lambda: _outbox(herald, f"Receipt {tag}"))
    skipped = wait_for(lambda: _settled(client, marketing))
    assert (skipped["status"], skipped["reason"]) == ("skipped", "category_disabled")
    assert _outbox(herald, f"Sale {tag}") == []
    (email,) = _outbox(herald, f"Receipt {tag}")
    assert email["to"] == f"{user_id}@example.com"
    assert wait_for(lambda: _settled(client, receipt))["status"] in ("sent", "delivered")


def test_a_send_inside_quiet_hours_is_deferred_and_arrives_after_the_window(
    herald: LocalHerald,
) -> None:
    # given a user in Kolkata (UTC+05:30) whose quiet hours end at the next minute, local time
    client = herald.client()
    if 60 - datetime.now(UTC).second < 8:
        time.sleep(60 - datetime.now(UTC).second + 1)  # not at the very edge of the window
    local = datetime.now(ZoneInfo("Asia/Kolkata"))
    start = (local - timedelta(minutes=1)).strftime("%H:%M")
    end_local = (local + timedelta(minutes=1)).replace(second=0, microsecond=0)
    user_id = _user(client, timezone="Asia/Kolkata")
    client.put(
        f"/v1/users/{user_id}/preferences",
        json={"quiet_hours": {"start": start, "end": end_local.strftime("%H:%M")}},
    )
    subject = f"Your weekly digest {uuid.uuid4().hex[:8]}"

    # when
    notification_id = _send(client, user_id, subject, category="digest")

    # then it waits, deferred, until the window ends in the user's time, then arrives
    deferred = wait_for(lambda: _settled(client, notification_id))
    assert (deferred["status"], deferred["reason"]) == ("deferred", "quiet_hours")
    assert _outbox(herald, subject) == []
    (email,) = wait_for(lambda: _outbox(herald, subject), timeout=90)
    arrived = datetime.fromisoformat(email["received_at"])
    assert arrived >= end_local.astimezone(UTC)
    assert wait_for(lambda: _settled(client, notification_id))["status"] in ("sent", "delivered")


def test_a_critical_send_ignores_quiet_hours_and_category_opt_outs(herald: LocalHerald) -> None:
    # given a user always in quiet hours who opted out of security emails
    client = herald.client()
    user_id = _user(client)
    client.put(
        f"/v1/users/{user_id}/preferences",
        json={
            "categories": {"security": False},
            "quiet_hours": {"start": "00:00", "end": "23:59"},
        },
    )
    subject = f"New sign-in {uuid.uuid4().hex[:8]}"

    # when
    _send(client, user_id, subject, category="security", critical=True)

    # then
    wait_for(lambda: _outbox(herald, subject))


def test_a_bounced_address_is_suppressed_and_the_next_send_is_skipped(
    herald: LocalHerald,
) -> None:
    # given a user whose address bounces
    client = herald.client()
    user_id = f"u_{uuid.uuid4().hex[:10]}"
    address = f"bounce+{user_id}@example.com"
    client.put(f"/v1/users/{user_id}", json={"email": address})
    first = _send(client, user_id, f"First {user_id}")
    wait_for(lambda: _delivery(client, first).get("status") == "bounced")

    # when
    second = _send(client, user_id, f"Second {user_id}")

    # then
    skipped = wait_for(lambda: _settled(client, second))
    assert (skipped["status"], skipped["reason"]) == ("skipped", "suppressed")
    suppressions = client.get("/v1/suppressions", params={"limit": 500}).json()["items"]
    assert any(s["address"] == address and s["reason"] == "bounce" for s in suppressions)
    assert _outbox(herald, f"Second {user_id}") == []


def test_one_click_unsubscribe_works_with_a_valid_token_and_refuses_a_forged_one(
    herald: LocalHerald,
) -> None:
    # given a marketing email, with its List-Unsubscribe headers
    client = herald.client()
    user_id = _user(client)
    subject = f"Deals {user_id}"
    _send(client, user_id, subject, category="marketing")
    (email,) = wait_for(lambda: _outbox(herald, subject))
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = email["headers"]["List-Unsubscribe"].strip("<>")
    token = parse_qs(urlsplit(url).query)["token"][0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    # when
    refused = httpx.post(
        f"{herald.url}/v1/unsubscribe",
        params={"token": forged},
        data={"List-Unsubscribe": "One-Click"},
    )
    preferences_after_forgery = client.get(f"/v1/users/{user_id}/preferences").json()
    accepted = httpx.post(
        f"{herald.url}/v1/unsubscribe",
        params={"token": token},
        data={"List-Unsubscribe": "One-Click"},
    )

    # then
    assert refused.status_code == 401
    assert preferences_after_forgery["categories"] == {}
    assert accepted.status_code == 200
    preferences = client.get(f"/v1/users/{user_id}/preferences").json()
    assert preferences["categories"] == {"marketing": False}
    next_send = _send(client, user_id, f"More deals {user_id}", category="marketing")
    skipped = wait_for(lambda: _settled(client, next_send))
    assert (skipped["status"], skipped["reason"]) == ("skipped", "category_disabled")
    events = client.get(f"/v1/users/{user_id}/export").json()["preference_events"]
    assert [e["source"] for e in events] == ["one_click"]


def test_the_preference_page_saves_a_category_toggle_in_a_real_browser(
    herald: LocalHerald,
) -> None:
    # given a user who has received newsletters, and a link to their preference page
    client = herald.client()
    user_id = _user(client, name="Ada")
    client.put(f"/v1/users/{user_id}/preferences", json={"categories": {"newsletter": True}})
    link = client.post(f"/v1/users/{user_id}/preference-link").json()["url"]

    # when the user turns the newsletter off with the keyboard and saves
    with chromium_page(javascript=False) as page:
        page.goto(link)
        checkbox = page.get_by_label("newsletter")
        assert checkbox.is_checked()
        checkbox.focus()
        page.keyboard.press("Space")
        page.get_by_role("button", name="Save preferences").click()
        page.get_by_role("status").filter(has_text="Preferences saved").wait_for()
        assert not page.get_by_label("newsletter").is_checked()

    # then the next newsletter is skipped
    notification_id = _send(client, user_id, f"News {user_id}", category="newsletter")
    skipped = wait_for(lambda: _settled(client, notification_id))
    assert (skipped["status"], skipped["reason"]) == ("skipped", "category_disabled")
    events = client.get(f"/v1/users/{user_id}/export").json()["preference_events"]
    assert [e["source"] for e in events] == ["api", "page"]
