"""One PostgreSQL connection per execution environment, reopened when it breaks.

Lambda runs one invocation at a time per environment, so a single connection is enough and
avoids a pool's overhead; RDS Proxy multiplexes environments onto few server connections.

The connection is in autocommit mode: a single statement is its own atomic unit and needs
no BEGIN/COMMIT round trips (`db.connection().execute(...)`); `transaction()` is for units
of several statements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    import psycopg
    from psycopg.types.json import Jsonb

Row = dict[str, Any]
if TYPE_CHECKING:
    Connection: TypeAlias = psycopg.Connection[Row]
else:
    # psycopg is imported with the first connection, not at cold start (~90 ms of the API's
    # import). The alias names a type in annotations and aliases only: at run time, Any.
    Connection = Any
T = TypeVar("T")

# How long opening a connection keeps trying. Aurora Serverless v2 resumes from auto-pause
# (0 ACU) when a connection arrives, in about 15 seconds: the first request after an idle
# spell waits for it, within API Gateway's 30 seconds (the API function's timeout is 29 s;
# queue consumers that still fail are retried by SQS).
RESUME_WAIT_SECONDS = 25.0
CONNECT_TIMEOUT_SECONDS = 10
_FIRST_RETRY_DELAY = 0.25
_MAX_RETRY_DELAY = 2.0
_TRANSIENT = ("08", "57P")

# A connection unused this long may have been dropped meanwhile (a frozen Lambda
# environment, the proxy's idle timeout, a failover): check it once before reuse, rather
# than paying a round trip before every statement.
IDLE_CHECK_SECONDS = 30.0


def jsonb(value: Any) -> Jsonb:
    """`value` as a jsonb parameter of a statement."""
    from psycopg.types.json import Jsonb

    return Jsonb(value)


class Database:
    """Lazily opened, self-healing connection."""

    def __init__(
        self,
        url: str,
        prepare_threshold: int | None = None,
        resume_wait_seconds: float = RESUME_WAIT_SECONDS,
    ) -> None:
        self._url = url
        self._prepare_threshold = prepare_threshold
        self._resume_wait = resume_wait_seconds
        self._conn: Connection | None = None
        self._last_used = 0.0

    def connection(self) -> Connection:
        """The open connection: reopened if it broke, checked first if it sat idle."""
        now = time.monotonic()
        conn = self._conn
        if conn is not None and not (conn.closed or conn.broken):
            if now - self._last_used > IDLE_CHECK_SECONDS:
                import psycopg

                try:
                    conn.execute("SELECT 1")
                except psycopg.OperationalError:
                    conn = None
        else:
            conn = None
        if conn is None:
            conn = self._connect()
            self._conn = conn
            now = time.monotonic()
        self._last_used = now
        return conn

    def _connect(self) -> Connection:
        """Open a connection, retrying while the server refuses or times out (a paused
        Aurora resuming, a failover) for up to `resume_wait_seconds`."""
        import psycopg
        from psycopg.rows import dict_row

        deadline = time.monotonic() + self._resume_wait
        delay = _FIRST_RETRY_DELAY
        while True:
            remaining = deadline - time.monotonic()
            try:
                return psycopg.connect(
                    self._url,
                    autocommit=True,
                    row_factory=dict_row,
                    prepare_threshold=self._prepare_threshold,
                    # libpq takes whole seconds, and treats 1 as 2.
                    connect_timeout=max(2, min(CONNECT_TIMEOUT_SECONDS, int(remaining))),
                )
            except psycopg.OperationalError as error:
                # No SQLSTATE: refused or timed out; 08/57P: not accepting connections yet.
                # Anything else (a wrong password...) will not get better by waiting.
                transient = error.sqlstate is None or error.sqlstate.startswith(_TRANSIENT)
                if not transient or time.monotonic() + delay >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a block of several statements in one transaction."""
        conn = self.connection()
        with conn.transaction():
            yield conn

    def run_reconnecting(self, statement: Callable[[Connection], T]) -> T:
        """Run `statement` on the connection; if the connection broke under it (a database
        restart, a failover), run it once more on a new one (opened with the usual wait).

        For statements whose outcome must not be lost to a short outage and that may run
        twice, e.g. recording what a provider accepted: lost, the send would be repeated
        once its lease lapses. A statement the server committed just before the connection
        broke is run again, so it must be safe to repeat.
        """
        import psycopg

        conn = self.connection()
        try:
            return statement(conn)
        except psycopg.OperationalError:
            if not (conn.closed or conn.broken):
                raise  # the statement failed, not the connection
        return statement(self.connection())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
