"""Embedded PostgreSQL (the `pgserver` package): a real server, no install, no Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

DATABASE = "herald"


def start_embedded(data_dir: Path) -> tuple[Any, str]:
    """Start (or attach to) the server whose data lives in `data_dir`; return it and a URL.

    The server stops when this process exits; the data stays for the next start.
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server, server.get_uri(DATABASE)
