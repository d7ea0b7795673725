"""What the SMS and WhatsApp workers share: a Twilio channel's batch plan. Each worker module
builds one `TextWorker` with its channel and composer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from herald.aws.secrets import provider_credentials
from herald.channels.base import TextMessage
from herald.channels.twilio_messages import PROVIDER, sender_for
from herald.db.connection import Connection
from herald.services import templates
from herald.services.text_messages import TwilioIdentity, describe

from functions.workers.channel_worker import BatchPlan, ChannelWorker

ComposeText = Callable[[Connection, dict[str, Any], dict[str, Any], TwilioIdentity], TextMessage]
"""Builds a delivery's message from its rendered content (the connection: for lookups)."""


class TextWorker(ChannelWorker):
    """The consumer of one Twilio channel's queue (created once per execution environment)."""

    def __init__(self, channel: str, compose: ComposeText) -> None:
        super().__init__(channel, PROVIDER, self._text_plan)
        self._compose = compose
        self._secret_id = self.settings.required("provider_secret_id")

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
            return self._compose(conn, delivery, content, identity)

        return BatchPlan(compose=compose, send=sender.send, describe=describe)
