"""Templates through HTTP only: create, version, preview, send by key in two locales."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import LocalHerald, wait_for


def _template(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": "Order shipped",
        "locale": "en",
        "channels": {
            "email": {
                "subject": "Order {{ order_id }} shipped",
                "html": "<p>Hi {{ name }}</p>{% for item in items %}<p>{{ item }}</p>{% endfor %}",
            }
        },
        "translations": {
            "fr": {
                "email": {
                    "subject": "Commande {{ order_id }} expédiée",
                    "text": "Bonjour {{ name }}",
                }
            }
        },
    }


def _outbox_for(herald: LocalHerald, order_id: str) -> list[dict[str, Any]]:
    return [
        m for m in httpx.get(f"{herald.url}/_dev/outbox").json() if order_id in (m["subject"] or "")
    ]


def test_a_template_is_versioned_previewed_and_sent_in_each_recipients_locale(
    herald: LocalHerald,
) -> None:
    # given a template, edited once
    client = herald.client()
    key = f"order_shipped_{uuid.uuid4().hex[:6]}"
    assert client.post("/v1/templates", json=_template(key)).status_code == 201
    edited = _template(key)
    del edited["key"]
    edited["channels"]["email"]["subject"] = "Order {{ order_id }} is on its way"
    assert client.put(f"/v1/templates/{key}", json=edited).json()["version"] == 2

    # when previewed and sent to a French-Canadian and an English recipient
    preview = client.post(
        f"/v1/templates/{key}/preview",
        json={
            "channel": "email",
            "locale": "fr-CA",
            "variables": {"order_id": "1", "name": "Zoé", "items": []},
        },
    ).json()
    order_id = uuid.uuid4().hex[:8]
    response = client.post(
        "/v1/notifications",
        json={
            "recipients": [
                {"email": "zoe@example.com", "locale": "fr-CA"},
                {"email": "ada@example.com", "locale": "en"},
            ],
            "template": key,
            "variables": {"order_id": order_id, "name": "Zoé & Ada", "items": ["tea", "<cups>"]},
        },
    )

    # then
    assert preview["locale"] == "fr" and preview["content"]["subject"] == "Commande 1 expédiée"
    assert response.status_code == 202
    sent = wait_for(
        lambda: len(_outbox_for(herald, order_id)) == 2 and _outbox_for(herald, order_id)
    )
    by_recipient = {m["to"]: m for m in sent}
    assert by_recipient["zoe@example.com"]["subject"] == f"Commande {order_id} expédiée"
    assert by_recipient["zoe@example.com"]["text"] == "Bonjour Zoé & Ada"
    english = by_recipient["ada@example.com"]
    assert english["subject"] == f"Order {order_id} is on its way"
    assert english["html"] == "<p>Hi Zoé &amp; Ada</p><p>tea</p><p>&lt;cups&gt;</p>"
    notification = client.get(f"/v1/notifications/{response.json()['id']}").json()
    assert notification["template"] == {"key": key, "version": 2}


def test_bad_templates_and_missing_variables_are_refused_and_change_nothing(
    herald: LocalHerald,
) -> None:
    # given
    client = herald.client()
    key = f"strict_{uuid.uuid4().hex[:6]}"
    unsafe = {
        **_template(key),
        "channels": {"email": {"subject": "x", "text": "{{ ''.__class__ }}"}},
    }
    broken = {**_template(key), "channels": {"email": {"subject": "{% if %}", "text": "x"}}}
    before = client.get("/v1/notifications", params={"limit": 500}).json()["items"]

    # when
    unsafe_response = client.post("/v1/templates", json=unsafe)
    broken_response = client.post("/v1/templates", json=broken)
    created = client.post("/v1/templates", json=_template(key))
    missing = client.post(
        "/v1/notifications",
        json={"recipients": [{"email": "ada@example.com"}], "template": key, "variables": {}},
    )

    # then
    assert unsafe_response.status_code == 422 and broken_response.status_code == 422
    assert created.status_code == 201 and created.json()["version"] == 1
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "missing template variables: items, name, order_id"
    after = client.get("/v1/notifications", params={"limit": 500}).json()["items"]
    assert after == before
