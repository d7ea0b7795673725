"""The per-environment connection survives the server dropping it."""

from __future__ import annotations

import psycopg
import pytest
from herald.db import connection as connection_module
from herald.db.connection import Database


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
