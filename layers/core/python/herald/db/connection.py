"""One PostgreSQL connection per execution environment, reopened when it breaks.

Lambda runs one invocation at a time per environment, so a single connection is enough and
avoids a pool's overhead; RDS Proxy multiplexes environments onto few server connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]
Connection = psycopg.Connection[Row]


class Database:
    """Lazily opened, self-healing connection. Use `transaction()` for every unit of work."""

    def __init__(self, url: str, prepare_threshold: int | None = None) -> None:
        self._url = url
        self._prepare_threshold = prepare_threshold
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        """Return the open connection, reconnecting if the previous one was lost."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=dict_row,
                prepare_threshold=self._prepare_threshold,
                connect_timeout=10,
            )
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a block in one transaction; a connection lost before it starts is reopened once."""
        conn = self.connection()
        try:
            conn.execute("SELECT 1")
        except psycopg.OperationalError:
            self._conn = None
            conn = self.connection()
        with conn.transaction():
            yield conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
