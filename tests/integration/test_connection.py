"""The per-environment connection survives the server dropping it, and waits for a database
that is resuming (Aurora auto-pause)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import psycopg
import pytest
from herald.db import connection as connection_module
from herald.db.connection import Database
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def _drop_server_side(database_url: str, db: Database) -> int:
    pid = db.connection().info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pid


def test_a_connection_dropped_while_idle_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a connection the server dropped while the environment sat idle (frozen Lambda)
    db = Database(database_url)
    old_pid = _drop_server_side(database_url, db)
    monkeypatch.setattr(connection_module, "IDLE_CHECK_SECONDS", 0.0)

    # when
    row = db.connection().execute("SELECT pg_backend_pid() AS pid").fetchone()

    # then the statement ran, on a new connection
    assert row is not None and row["pid"] != old_pid
    db.close()


def test_a_connection_that_broke_mid_use_is_reopened_on_the_next_call(database_url: str) -> None:
    # given a connection dropped between two statements of a busy environment
    db = Database(database_url)
    _drop_server_side(database_url, db)

    # when the next statement fails, the one after it reconnects
    with pytest.raises(psycopg.OperationalError):
        db.connection().execute("SELECT 1")
    row = db.connection().execute("SELECT 1 AS one").fetchone()

    # then
    assert row == {"one": 1}
    db.close()


class _LateServer:
    """A TCP port that refuses connections until `open()`, then forwards them to PostgreSQL:
    what a client sees of an Aurora cluster resuming from auto-pause."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()  # nothing listens: connections are refused
        self._listener: socket.socket | None = None

    def open(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = _connect_upstream(self._database_url)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _through(database_url: str, port: int) -> str:
    """The same database, reached over TCP on `port`."""
    return make_conninfo(database_url, host="127.0.0.1", port=str(port))


def _connect_upstream(database_url: str) -> socket.socket:
    """A socket to the server itself: its Unix socket (the embedded PostgreSQL) or TCP."""
    info = conninfo_to_dict(database_url)
    host, port = str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)
    if host.startswith("/"):
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(f"{host}/.s.PGSQL.{port}")
        return upstream
    return socket.create_connection((host, port))


def test_the_first_connection_waits_for_a_resuming_database(database_url: str) -> None:
    # given a database that accepts connections only 1.5 seconds from now
    server = _LateServer(database_url)
    db = Database(_through(database_url, server.port), resume_wait_seconds=10)
    threading.Timer(1.5, server.open).start()

    # when the first statement of a cold environment runs
    started = time.monotonic()
    row = db.connection().execute("SELECT 1 AS one").fetchone()

    # then it waited for the database rather than failing the request
    assert row == {"one": 1}
    assert time.monotonic() - started >= 1.0
    db.close()
    server.close()


def test_a_database_that_stays_away_fails_once_the_wait_is_over(database_url: str) -> None:
    # given a database that never comes back
    server = _LateServer(database_url)
    db = Database(_through(database_url, server.port), resume_wait_seconds=1)

    # when / then: the caller gets the error (a queue consumer's batch is then retried by SQS)
    with pytest.raises(psycopg.OperationalError):
        db.connection()


def test_a_statement_whose_connection_broke_under_it_runs_again_on_a_new_one(
    database_url: str,
) -> None:
    # given a connection the server dropped (a restart, a failover) before a result is recorded
    db = Database(database_url)
    old_pid = _drop_server_side(database_url, db)

    # when the result is recorded through run_reconnecting
    row = db.run_reconnecting(
        lambda conn: conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    )

    # then it was recorded, on a new connection, instead of being lost
    assert row is not None and row["pid"] != old_pid
    db.close()


def test_a_statement_that_fails_on_a_sound_connection_is_not_run_again(
    database_url: str,
) -> None:
    # given a statement the server cancels (an OperationalError), the connection staying sound
    db = Database(database_url)
    runs = []

    def failing(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
        runs.append(conn.info.backend_pid)
        conn.execute("SET statement_timeout = 10")
        try:
            conn.execute("SELECT pg_sleep(1)")  # canceled: an OperationalError
        finally:
            conn.execute("RESET statement_timeout")

    # when / then it fails once, and is not repeated
    with pytest.raises(psycopg.errors.QueryCanceled):
        db.run_reconnecting(failing)
    assert len(runs) == 1
    db.close()
