"""What the SMS and WhatsApp workers share: a Twilio channel's batch plan. Each worker module
builds one `TextWorker` with its channel and composer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from herald.aws.secrets import provider_credentials
from herald.channels.base import TextMessage
from herald.channels.twilio_messages import PROVIDER, TwilioMessageSender, sender_for
from herald.db.connection import Connection, Row
from herald.services import templates
from herald.services.delivering import Send
from herald.services.text_messages import TwilioIdentity, describe

from functions.workers.channel_worker import BatchPlan, ChannelWorker

ComposeText = Callable[[Connection, dict[str, Any], dict[str, Any], TwilioIdentity], TextMessage]
"""Builds a delivery's message from its rendered content (the connection: for lookups)."""


class TextWorker(ChannelWorker):
    """The consumer of one Twilio channel's queue (created once per execution environment)."""

    def __init__(self, channel: str, compose: ComposeText) -> None:
        super().__init__(channel, PROVIDER, self._text_plan, integrations=self._integration_sender)
        self._compose = compose
        self._secret_id = self.settings.required("provider_secret_id")

    def _integration_sender(
        self, integration: Row, credentials: dict[str, Any]
    ) -> Send[TextMessage]:
        """The send function of a tenant's own Twilio account: its numbers (or messaging
        service), and a status callback that names it, so its signature is checked with the
        account's own token."""
        sender = TwilioMessageSender(
            str(credentials["account_sid"]),
            str(credentials["auth_token"]),
            api_base_url=self.settings.twilio_api_base_url,
        )
        settings = integration["settings"]
        number = settings.get("whatsapp_from" if self.channel == "whatsapp" else "from_number")
        service = settings.get("messaging_service_sid")
        suffix = "&" + urlencode({"integration_id": integration["id"]})

        def send(message: TextMessage) -> str:
            return sender.send(
                dataclasses.replace(
                    message,
                    sender=number,
                    messaging_service_sid=service,
                    status_callback=message.status_callback + suffix,
                )
            )

        return send

    def _text_plan(self) -> BatchPlan[TextMessage]:
        # The secret is cached for minutes: a rotated token or a new number takes effect alone.
        credentials = provider_credentials(self._secret_id)
        identity = TwilioIdentity.from_credentials(credentials, self.settings.public_base_url)
        sender = sender_for(
            str(credentials.get("twilio_account_sid", "")),
            str(credentials.get("twilio_auth_token", "")),
            self.settings.twilio_api_base_url,
        )

        def compose(delivery: dict[str, Any]) -> TextMessage:
            conn = self.db.connection()
            content = templates.content_for(conn, delivery)
            return self._compose(
                conn, delivery, content, self._identity_of(conn, delivery, identity)
            )

        return BatchPlan(compose=compose, send=sender.send, describe=describe)

    def _identity_of(
        self, conn: Connection, delivery: dict[str, Any], default: TwilioIdentity
    ) -> TwilioIdentity:
        """Who a delivery's message comes from: the tenant's first integration of the channel
        (its numbers), else the deployment's account. A WhatsApp message's form depends on it:
        the 24-hour window is the one the user opened by writing to that number. (Failing
        over to a tenant's second number keeps the form chosen for the first.)"""
        own = self.tenant_integrations(conn, delivery["tenant_id"])
        if not own:
            return default
        settings = own[0]["settings"]
        return dataclasses.replace(
            default,
            from_number=settings.get("from_number"),
            messaging_service_sid=settings.get("messaging_service_sid"),
            whatsapp_from=settings.get("whatsapp_from"),
        )
