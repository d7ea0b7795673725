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
    _forget_dead_handles(data_dir)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server, server.get_uri(DATABASE)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of processes that died without closing their handle on the server.

    pgserver stops the server when its last handle closes, counting handles by pid in
    `.handle_pids.json`. A process killed outright (SIGKILL, OOM) never removes its pid, so no
    later exit would count as the last one and the server would outlive every clean stop.
    """
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList, process_is_running

    path = data_dir / ".handle_pids.json"
    if not path.exists():
        return
    with PostgresServer._lock:
        handles = DiskList(path)
        pids = handles.get()
        alive = [pid for pid in pids if process_is_running(pid)]
        if alive != pids:
            handles.put(alive)
