"""Realtime inbox updates: what the open WebSocket connections of a user receive.

Messages are `{"type": "inbox.item_created", "item"}` and `{"type": "inbox.counts",
"unread", "unseen", "total"}`. Connections live in PostgreSQL; one the gateway reports gone
(`GoneException`: the browser left without a clean close) is forgotten on the spot.
Announcing is best effort: a failure is logged and never fails the change it announces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any, Protocol

from herald.db import inbox, inbox_connections
from herald.db.connection import Connection, Row
from herald.models.inbox import InboxCounts, InboxItemOut

logger = logging.getLogger(__name__)


class Poster(Protocol):
    def post(self, connection_id: str, message: dict[str, Any]) -> bool:
        """Send a message; False when the connection is gone."""
        ...


class InboxRealtime:
    """Pushes inbox events to the open connections of the users they concern."""

    def __init__(self, poster: Poster | None, senders: Executor | None = None) -> None:
        # No poster: realtime is not configured (a deployment without the WebSocket API).
        self._poster = poster
        self._senders = senders

    def items_created(self, conn: Connection, tenant_id: str, items: Sequence[Row]) -> None:
        """Announce new items (rows with `user_id`), then each user's counts."""
        by_user: dict[str, list[dict[str, Any]]] = {}
        for row in items:
            item = InboxItemOut.model_validate(row).model_dump(mode="json")
            by_user.setdefault(row["user_id"], []).append(
                {"type": "inbox.item_created", "item": item}
            )
        self._announce(conn, tenant_id, by_user)

    def counts_changed(self, conn: Connection, tenant_id: str, user_ids: Sequence[str]) -> None:
        """Announce the current counts of these users."""
        self._announce(conn, tenant_id, {user_id: [] for user_id in user_ids})

    def _announce(
        self, conn: Connection, tenant_id: str, messages: dict[str, list[dict[str, Any]]]
    ) -> None:
        if self._poster is None or not messages:
            return
        try:
            connections = inbox_connections.connections_of_users(conn, tenant_id, list(messages))
            if not connections:
                return
            users = list({c["user_id"] for c in connections})
            counts = inbox.counts_of_users(conn, tenant_id, users)
            for user_id in users:
                counted = InboxCounts.model_validate(counts[user_id]).model_dump()
                messages[user_id].append({"type": "inbox.counts", **counted})
            sends = [(c["connection_id"], messages[c["user_id"]]) for c in connections]
            alive = self._post_all(sends)
            gone = [send[0] for send, ok in zip(sends, alive, strict=True) if not ok]
            inbox_connections.remove_connections(conn, gone)
        except Exception:
            logger.exception("could not announce inbox changes of tenant %s", tenant_id)

    def _post_all(self, sends: list[tuple[str, list[dict[str, Any]]]]) -> list[bool]:
        if self._senders is None or len(sends) == 1:
            return [self._post(cid, batch) for cid, batch in sends]
        return list(self._senders.map(lambda send: self._post(*send), sends))

    def _post(self, connection_id: str, batch: list[dict[str, Any]]) -> bool:
        assert self._poster is not None
        return all(self._poster.post(connection_id, message) for message in batch)
