"""What the simulator accepted outlives the process: the outbox file and the web push
subscriptions' keys, read again by the next simulator on the same home directory."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from herald.channels.twilio_messages import TwilioMessageSender
from herald.services import vapid
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from local.simulator import Outbox, ProviderSimulator
from tests.unit.local.test_twilio_simulator import ACCOUNT_SID, AUTH_TOKEN, _sms

VAPID_SECRET = "kept-outbox-test-vapid-secret-0123456789abcdef"


def _entry(n: int) -> dict[str, object]:
    return {"id": f"m{n}", "channel": "sms", "to": f"+1415555010{n}", "delivery_id": f"dlv_{n}"}


def test_a_new_outbox_on_the_same_file_lists_what_the_last_one_recorded(tmp_path: Path) -> None:
    # given an outbox that recorded two messages, then died without closing its file
    path = tmp_path / "outbox.jsonl"
    first = Outbox(path=path)
    first.record(_entry(1))
    first.record(_entry(2))

    # when a new one opens the file
    second = Outbox(path=path)
    second.record(_entry(3))

    # then it lists all three, newest first, and the file holds one line each
    assert [e["id"] for e in second.list()] == ["m3", "m2", "m1"]
    assert [json.loads(line)["delivery_id"] for line in path.read_text().splitlines()] == [
        "dlv_1",
        "dlv_2",
        "dlv_3",
    ]


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_next_entry_starts_afresh(
    tmp_path: Path,
) -> None:
    # given a file whose last write was cut off
    path = tmp_path / "outbox.jsonl"
    path.write_text(json.dumps(_entry(1)) + "\n" + '{"id": "m2", "chan')

    # when an outbox opens it and records
    outbox = Outbox(path=path)
    outbox.record(_entry(3))

    # then the whole entries are kept, before and after the broken line
    assert [e["id"] for e in outbox.list()] == ["m3", "m1"]
    assert [e["id"] for e in Outbox(path=path).list()] == ["m3", "m1"]


def test_clearing_empties_the_file_too(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = Outbox(path=path)
    outbox.record(_entry(1))

    outbox.clear()
    outbox.record(_entry(2))

    assert [e["id"] for e in Outbox(path=path).list()] == ["m2"]


def test_the_simulator_records_the_delivery_a_twilio_status_callback_names(
    tmp_path: Path,
) -> None:
    # given a simulator keeping its outbox in a file
    simulator = ProviderSimulator(
        outbox=Outbox(path=tmp_path / "outbox.jsonl"),
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
    )
    simulator.start()
    try:
        sender = TwilioMessageSender(ACCOUNT_SID, AUTH_TOKEN, api_base_url=simulator.url)
        # when Herald sends an SMS whose status callback names its delivery
        sid = sender.send(_sms("+14155550100", "http://127.0.0.1:1/cb?delivery_id=dlv_7&t=1"))
    finally:
        simulator.stop()

    # then the kept entry carries the provider's id and the delivery's
    [kept] = Outbox(path=tmp_path / "outbox.jsonl").list()
    assert (kept["id"], kept["delivery_id"], kept["to"]) == (sid, "dlv_7", "+14155550100")


def test_a_web_push_subscription_made_before_a_restart_still_decrypts_after_it(
    tmp_path: Path,
) -> None:
    # given a subscription made by one simulator
    kept = tmp_path / "web-push-subscriptions.jsonl"
    first = ProviderSimulator(web_push_subscriptions=kept)
    first.start()
    subscription = first.create_web_push_subscription("ok")
    port = first.port
    first.stop()

    # when the next simulator, on the same port and file, receives a push for it
    second = ProviderSimulator(port=port, web_push_subscriptions=kept)
    second.start()
    try:
        response = webpush(
            subscription,
            data=json.dumps({"title": "Still", "body": "here"}),
            vapid_private_key=Vapid02(private_key=vapid.private_key(VAPID_SECRET)),
            vapid_claims={"sub": "mailto:ops@example.com"},
            ttl=60,
        )
    finally:
        second.stop()

    # then it is decrypted with the kept key
    assert response.status_code == 201
    [entry] = second.outbox.list()
    assert entry["payload"] == {"title": "Still", "body": "here"}


def test_a_subscription_keeps_the_key_it_was_made_with_across_a_restart(tmp_path: Path) -> None:
    # given a subscription made with a tenant's own key, before a restart
    kept = tmp_path / "web-push-subscriptions.jsonl"
    tenant_key = Vapid02(private_key=ec.generate_private_key(ec.SECP256R1()))
    public = base64.urlsafe_b64encode(
        tenant_key.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    ).rstrip(b"=")
    first = ProviderSimulator(web_push_subscriptions=kept)
    first.start()
    subscription = first.create_web_push_subscription("ok", public.decode())
    port = first.port
    first.stop()

    # when the next simulator receives a push signed with another key, then with its own
    second = ProviderSimulator(port=port, web_push_subscriptions=kept)
    second.start()
    try:
        with pytest.raises(WebPushException) as refused:
            webpush(
                subscription,
                data="{}",
                vapid_private_key=Vapid02(private_key=vapid.private_key(VAPID_SECRET)),
                vapid_claims={"sub": "mailto:ops@example.com"},
            )
        accepted = webpush(
            subscription,
            data="{}",
            vapid_private_key=tenant_key,
            vapid_claims={"sub": "mailto:ops@example.com"},
        )
    finally:
        second.stop()

    # then only its own key gets through
    assert refused.value.response is not None
    assert refused.value.response.status_code == 403
    assert accepted.status_code == 201
