"""One PostgreSQL connection per execution environment, reopened when it breaks.

Lambda runs one invocation at a time per environment, so a single connection is enough and
avoids a pool's overhead; RDS Proxy multiplexes environments onto few server connections.

The connection is in autocommit mode: a single statement is its own atomic unit and needs
no BEGIN/COMMIT round trips (`db.connection().execute(...)`); `transaction()` is for units
of several statements.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]
Connection = psycopg.Connection[Row]

# A connection unused this long may have been dropped meanwhile (a frozen Lambda
# environment, the proxy's idle timeout, a failover): check it once before reuse, rather
# than paying a round trip before every statement.
IDLE_CHECK_SECONDS = 30.0


class Database:
    """Lazily opened, self-healing connection."""

    def __init__(self, url: str, prepare_threshold: int | None = None) -> None:
        self._url = url
        self._prepare_threshold = prepare_threshold
        self._conn: Connection | None = None
        self._last_used = 0.0

    def connection(self) -> Connection:
        """The open connection: reopened if it broke, checked first if it sat idle."""
        now = time.monotonic()
        conn = self._conn
        if conn is not None and not (conn.closed or conn.broken):
            if now - self._last_used > IDLE_CHECK_SECONDS:
                try:
                    conn.execute("SELECT 1")
                except psycopg.OperationalError:
                    conn = None
        else:
            conn = None
        if conn is None:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=dict_row,
                prepare_threshold=self._prepare_threshold,
                connect_timeout=10,
            )
            self._conn = conn
        self._last_used = now
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a block of several statements in one transaction."""
        conn = self.connection()
        with conn.transaction():
            yield conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
