"""Templates through the real API handler: versions, locales, rendering, safety, sending."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_dispatch, run_pipeline

ORDER_SHIPPED: dict[str, Any] = {
    "key": "order_shipped",
    "name": "Order shipped",
    "locale": "en",
    "channels": {
        "email": {
            "subject": "Order {{ order_id }} shipped",
            "html": "<p>Hi {{ name }},</p><ul>{% for item in items %}<li>{{ item }}</li>"
            "{% endfor %}</ul>",
        },
        "sms": {"text": "Order {{ order_id }} shipped"},
    },
    "translations": {
        "fr": {
            "email": {
                "subject": "Commande {{ order_id }} expédiée",
                "html": "<p>Bonjour {{ name }},</p>",
            }
        }
    },
}
VARIABLES = {"order_id": "A-42", "name": "Ada", "items": ["tea", "cups"]}


def create(stack: Stack, key: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    status, _, created = call_api(
        stack, "POST", "/v1/templates", key=key, body=body or ORDER_SHIPPED
    )
    return status, created


def send(stack: Stack, key: str, **fields: Any) -> tuple[int, Any]:
    body = {
        "recipients": [{"email": "ada@example.com"}],
        "template": "order_shipped",
        "variables": VARIABLES,
        **fields,
    }
    status, _, response = call_api(stack, "POST", "/v1/notifications", key=key, body=body)
    return status, response


def outbox_by_recipient(stack: Stack) -> dict[str, dict[str, Any]]:
    return {m["to"]: m for m in stack.simulator.outbox.list()}


def test_a_template_is_created_at_version_1_with_the_variables_it_needs(
    stack: Stack, tenant: Tenant
) -> None:
    # when
    status, created = create(stack, tenant.key)

    # then
    assert status == 201
    assert created["key"] == "order_shipped" and created["status"] == "active"
    assert created["version"] == created["active_version"] == created["latest_version"] == 1
    assert created["variables"] == ["items", "name", "order_id"]
    assert set(created["channels"]) == {"email", "sms"}
    assert set(created["translations"]) == {"fr"}
    _, _, fetched = call_api(stack, "GET", "/v1/templates/order_shipped", key=tenant.key)
    assert fetched == created


def test_put_adds_a_version_and_any_version_can_be_read_and_reactivated(
    stack: Stack, tenant: Tenant
) -> None:
    # given version 1, then version 2 with a new subject
    create(stack, tenant.key)
    v2 = {"name": "Shipped", "channels": {"email": {"subject": "Shipped!", "text": "On its way"}}}
    status, _, updated = call_api(
        stack, "PUT", "/v1/templates/order_shipped", key=tenant.key, body=v2
    )
    assert status == 200
    assert updated["version"] == updated["active_version"] == 2
    assert updated["variables"] == []

    # when
    _, _, first = call_api(
        stack, "GET", "/v1/templates/order_shipped", key=tenant.key, query={"version": "1"}
    )
    _, _, versions = call_api(stack, "GET", "/v1/templates/order_shipped/versions", key=tenant.key)
    status, _, rolled_back = call_api(
        stack, "POST", "/v1/templates/order_shipped/versions/1/activate", key=tenant.key
    )

    # then
    assert first["version"] == 1 and first["channels"]["email"]["subject"].startswith("Order")
    assert [(v["version"], v["active"]) for v in versions["items"]] == [(2, True), (1, False)]
    assert status == 200 and rolled_back["active_version"] == 1 and rolled_back["version"] == 1
    assert rolled_back["latest_version"] == 2


def test_a_notification_renders_the_version_it_was_accepted_with(
    stack: Stack, tenant: Tenant
) -> None:
    # given a notification accepted while version 1 was active
    create(stack, tenant.key)
    status, accepted = send(stack, tenant.key)
    assert status == 202

    # when the template is edited before the notification is dispatched
    v2 = {"name": "Edited", "channels": {"email": {"subject": "Edited", "text": "Edited"}}}
    call_api(stack, "PUT", "/v1/templates/order_shipped", key=tenant.key, body=v2)
    run_pipeline(stack)

    # then version 1 is what was sent, and the notification says so
    (email,) = stack.simulator.outbox.list()
    assert email["subject"] == "Order A-42 shipped"
    assert "<li>tea</li><li>cups</li>" in email["html"]
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    assert notification["template"] == {"key": "order_shipped", "version": 1}


def test_each_recipient_gets_the_content_of_their_locale_with_fallback(
    stack: Stack, tenant: Tenant
) -> None:
    # given a template in en (default) and fr
    create(stack, tenant.key)
    recipients = [
        {"email": "claire@example.com", "locale": "fr-CA"},
        {"email": "ada@example.com", "locale": "en-GB"},
        {"email": "hans@example.com", "locale": "de"},
        {"email": "anon@example.com"},
    ]

    # when
    status, _ = send(stack, tenant.key, recipients=recipients)
    run_pipeline(stack)

    # then fr-CA falls back to fr; every other locale to the default
    assert status == 202
    sent = outbox_by_recipient(stack)
    assert sent["claire@example.com"]["subject"] == "Commande A-42 expédiée"
    assert sent["claire@example.com"]["html"] == "<p>Bonjour Ada,</p>"
    for address in ("ada@example.com", "hans@example.com", "anon@example.com"):
        assert sent[address]["subject"] == "Order A-42 shipped"
    # the text part was derived from the html
    assert "Bonjour Ada," in sent["claire@example.com"]["text"]
    assert "- tea" in sent["ada@example.com"]["text"]


def test_html_is_autoescaped_and_text_is_not(stack: Stack, tenant: Tenant) -> None:
    # given
    template = {
        "key": "escape",
        "name": "Escape",
        "channels": {
            "email": {"subject": "Hi {{ name }}", "text": "{{ name }}", "html": "{{ name }}"}
        },
    }
    create(stack, tenant.key, template)

    # when
    send(stack, tenant.key, template="escape", variables={"name": "<b>Tom & Jerry</b>"})
    run_pipeline(stack)

    # then
    (email,) = stack.simulator.outbox.list()
    assert email["html"] == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    assert email["text"] == "<b>Tom & Jerry</b>"
    assert email["subject"] == "Hi <b>Tom & Jerry</b>"


def test_a_channel_the_template_lacks_is_skipped_with_no_content(
    stack: Stack, tenant: Tenant
) -> None:
    # given a template with SMS content only
    template = {"key": "sms_only", "name": "SMS", "channels": {"sms": {"text": "Hi"}}}
    create(stack, tenant.key, template)

    # when email is asked for explicitly
    status, accepted = send(stack, tenant.key, template="sms_only", channels=["email"])
    run_pipeline(stack)

    # then the delivery is skipped with the reason, and nothing is sent
    assert status == 202
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    (delivery,) = notification["deliveries"]
    assert (delivery["status"], delivery["reason"]) == ("skipped", "no_content")
    assert notification["status"] == "completed"
    assert stack.simulator.outbox.list() == []
    # and without explicit channels, the template's own channel (sms) is sent
    status, accepted = send(stack, tenant.key, template="sms_only")
    assert status == 202, accepted


def test_a_send_missing_variables_is_refused_naming_each_and_stores_nothing(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    create(stack, tenant.key)

    # when
    status, error = send(stack, tenant.key, variables={"name": "Ada"})

    # then
    assert status == 422
    assert error["error"]["code"] == "UNPROCESSABLE"
    assert error["error"]["message"] == "missing template variables: items, order_id"
    fields = [d["field"] for d in error["error"]["details"]]
    assert fields == ["variables.items", "variables.order_id"]
    _, _, listed = call_api(stack, "GET", "/v1/notifications", key=tenant.key)
    assert listed["items"] == []
    assert run_dispatch(stack) == 0


def test_unknown_and_archived_templates_cannot_be_sent(stack: Stack, tenant: Tenant) -> None:
    # given
    create(stack, tenant.key)
    status, _, _ = call_api(stack, "DELETE", "/v1/templates/order_shipped", key=tenant.key)
    assert status == 204

    # when
    archived_status, archived = send(stack, tenant.key)
    unknown_status, unknown = send(stack, tenant.key, template="nope")

    # then
    assert archived_status == 422 and "archived" in archived["error"]["message"]
    assert unknown_status == 422 and "not found" in unknown["error"]["message"]
    _, _, active = call_api(stack, "GET", "/v1/templates", key=tenant.key)
    _, _, archived_list = call_api(
        stack, "GET", "/v1/templates", key=tenant.key, query={"status": "archived"}
    )
    assert active["items"] == []
    assert [t["key"] for t in archived_list["items"]] == ["order_shipped"]
    # activating a version restores it
    call_api(stack, "POST", "/v1/templates/order_shipped/versions/1/activate", key=tenant.key)
    assert send(stack, tenant.key)[0] == 202


@pytest.mark.parametrize(
    ("part", "source", "message"),
    [
        ("subject", "Hi {{ name", "channels.email.subject"),
        ("html", "{{ ''.__class__.__mro__ }}", "email.html, line 1: '__mro__' cannot be used"),
        ("html", "{{ cycler.__init__.__globals__ }}", "'__globals__' cannot be used"),
        ("text", "{{ user['__dict__'] }}", "'__dict__' cannot be used"),
        ("text", "{{ user._secret }}", "'_secret' cannot be used"),
    ],
)
def test_a_broken_or_unsafe_template_is_refused_on_save_and_nothing_is_created(
    stack: Stack, tenant: Tenant, part: str, source: str, message: str
) -> None:
    # given
    content = {"subject": "Hi", "text": "Hi", part: source}
    template = {"key": "bad", "name": "Bad", "channels": {"email": content}}

    # when
    status, error = create(stack, tenant.key, template)

    # then
    assert status == 422
    assert message in error["error"]["message"] + str(error["error"]["details"])
    assert call_api(stack, "GET", "/v1/templates/bad", key=tenant.key)[0] == 404


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("{% for i in range(n) %}{% for j in range(n) %}x{% endfor %}{% endfor %}", {"n": 9999}),
        ("{{ 'x' * n }}", {"n": 10**9}),
        ("{% macro f(i) %}{{ f(i + 1) }}{% endmacro %}{{ f(n) }}", {"n": 0}),
        ("{{ x[key] }}", {"x": "", "key": "__class__"}),
    ],
)
def test_a_runaway_or_unsafe_render_is_refused_at_send_and_nothing_is_queued(
    stack: Stack, tenant: Tenant, source: str, variables: dict[str, Any]
) -> None:
    # given a template that saves fine but cannot render for these variables
    template = {
        "key": "runaway",
        "name": "Runaway",
        "channels": {"email": {"subject": "Hi", "text": source}},
    }
    assert create(stack, tenant.key, template)[0] == 201

    # when
    status, error = send(stack, tenant.key, template="runaway", variables=variables)
    preview_status, _, preview_error = call_api(
        stack,
        "POST",
        "/v1/templates/runaway/preview",
        key=tenant.key,
        body={"channel": "email", "variables": variables},
    )

    # then
    assert status == 422 and error["error"]["code"] == "UNPROCESSABLE"
    assert preview_status == 422 and preview_error["error"]["message"] == error["error"]["message"]
    assert run_dispatch(stack) == 0


def test_a_render_that_fails_for_one_recipient_fails_only_that_delivery(
    stack: Stack, tenant: Tenant
) -> None:
    # given a template that breaks only for German recipients
    template = {
        "key": "fragile",
        "name": "Fragile",
        "channels": {
            "email": {
                "subject": "Hi",
                "text": "{% if recipient.locale == 'de' %}{{ order.missing }}{% endif %}ok",
            }
        },
    }
    create(stack, tenant.key, template)
    recipients = [{"email": "ada@example.com"}, {"email": "hans@example.com", "locale": "de"}]

    # when
    status, accepted = send(
        stack, tenant.key, template="fragile", recipients=recipients, variables={"order": {}}
    )
    run_pipeline(stack)

    # then the other recipient still gets the email, and the failure is recorded
    assert status == 202
    assert list(outbox_by_recipient(stack)) == ["ada@example.com"]
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    outcome = {
        d["recipient"]["email"]: (d["status"], d["reason"]) for d in notification["deliveries"]
    }
    assert outcome == {
        "ada@example.com": ("sent", None),
        "hans@example.com": ("failed", "render_failed"),
    }
    assert notification["status"] == "completed"


def test_preview_renders_a_channel_and_reports_sms_encoding(stack: Stack, tenant: Tenant) -> None:
    # given
    create(stack, tenant.key)

    # when
    _, _, email = call_api(
        stack,
        "POST",
        "/v1/templates/order_shipped/preview",
        key=tenant.key,
        body={"channel": "email", "variables": VARIABLES, "locale": "fr-CA"},
    )
    _, _, sms = call_api(
        stack,
        "POST",
        "/v1/templates/order_shipped/preview",
        key=tenant.key,
        body={"channel": "sms", "variables": {"order_id": "€" * 80}},
    )
    missing_status, _, missing = call_api(
        stack,
        "POST",
        "/v1/templates/order_shipped/preview",
        key=tenant.key,
        body={"channel": "sms", "variables": {}},
    )

    # then
    assert email["locale"] == "fr" and email["version"] == 1
    assert email["content"]["subject"] == "Commande A-42 expédiée"
    assert email["content"]["text"].strip() == "Bonjour Ada,"
    assert email["sms"] is None
    # 80 euro signs are 160 septets, plus "Order  shipped": more than one segment
    assert sms["sms"]["encoding"] == "GSM-7"
    assert sms["sms"]["characters"] == 160 + len("Order  shipped")
    assert sms["sms"]["segments"] == 2
    assert (
        missing_status == 422
        and missing["error"]["message"] == "missing template variables: order_id"
    )


def test_get_with_locale_returns_the_content_each_channel_falls_back_to(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    create(stack, tenant.key)

    # when
    _, _, french = call_api(
        stack, "GET", "/v1/templates/order_shipped", key=tenant.key, query={"locale": "fr-CA"}
    )

    # then email comes from fr, sms (untranslated) from the default locale
    assert french["content_locales"] == {"email": "fr", "sms": "en"}
    assert french["channels"]["email"]["subject"].startswith("Commande")
    assert (
        call_api(stack, "GET", "/v1/templates/x", key=tenant.key, query={"locale": "no way"})[0]
        == 400
    )


def test_templates_are_invisible_to_other_tenants(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    create(stack, tenant.key)

    # when / then: the other tenant can neither see nor use it, and may take the same key
    assert call_api(stack, "GET", "/v1/templates/order_shipped", key=other_tenant.key)[0] == 404
    _, _, listed = call_api(stack, "GET", "/v1/templates", key=other_tenant.key)
    assert listed["items"] == []
    status, error = send(stack, other_tenant.key)
    assert status == 422 and "not found" in error["error"]["message"]
    put = call_api(
        stack,
        "PUT",
        "/v1/templates/order_shipped",
        key=other_tenant.key,
        body={"name": "x", "channels": {"sms": {"text": "x"}}},
    )
    assert put[0] == 404
    assert create(stack, other_tenant.key)[0] == 201


def test_duplicate_keys_conflict_and_idempotent_creates_replay(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    headers = {"Idempotency-Key": "tpl-1"}
    status, first_headers, first = call_api(
        stack, "POST", "/v1/templates", key=tenant.key, body=ORDER_SHIPPED, headers=headers
    )

    # when
    _, replay_headers, replay = call_api(
        stack, "POST", "/v1/templates", key=tenant.key, body=ORDER_SHIPPED, headers=headers
    )
    duplicate_status, _, _ = call_api(
        stack, "POST", "/v1/templates", key=tenant.key, body=ORDER_SHIPPED
    )

    # then
    assert status == 201 and "idempotent-replayed" not in first_headers
    assert replay == first and replay_headers["idempotent-replayed"] == "true"
    assert duplicate_status == 409


def test_templates_need_the_templates_scope(stack: Stack, tenant: Tenant) -> None:
    # given a key with send and read only
    _, _, created = call_api(
        stack,
        "POST",
        "/v1/api-keys",
        key=tenant.key,
        body={"name": "app", "scopes": ["send", "read"]},
    )

    # when
    status, _, error = call_api(
        stack, "POST", "/v1/templates", key=created["key"], body=ORDER_SHIPPED
    )

    # then
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"


def test_templates_and_versions_are_listed_a_page_at_a_time(stack: Stack, tenant: Tenant) -> None:
    # given three templates, the first with three versions
    for key in ("a_first", "b_second", "c_third"):
        create(stack, tenant.key, {**ORDER_SHIPPED, "key": key})
    for name in ("v2", "v3"):
        body = {"name": name, "channels": {"email": {"subject": name, "text": name}}}
        call_api(stack, "PUT", "/v1/templates/a_first", key=tenant.key, body=body)

    # when
    _, _, first = call_api(stack, "GET", "/v1/templates", key=tenant.key, query={"limit": "2"})
    _, _, rest = call_api(
        stack, "GET", "/v1/templates", key=tenant.key, query={"cursor": first["next_cursor"]}
    )
    _, _, newest = call_api(
        stack, "GET", "/v1/templates/a_first/versions", key=tenant.key, query={"limit": "2"}
    )
    _, _, oldest = call_api(
        stack,
        "GET",
        "/v1/templates/a_first/versions",
        key=tenant.key,
        query={"cursor": newest["next_cursor"]},
    )
    bad_status, _, _ = call_api(
        stack, "GET", "/v1/templates", key=tenant.key, query={"cursor": "!!!"}
    )

    # then
    assert [t["key"] for t in first["items"]] == ["a_first", "b_second"]
    assert [t["key"] for t in rest["items"]] == ["c_third"] and rest["next_cursor"] is None
    assert [v["version"] for v in newest["items"]] == [3, 2]
    assert [v["version"] for v in oldest["items"]] == [1] and oldest["next_cursor"] is None
    assert bad_status == 400
