"""Embedded PostgreSQL (the `pgserver` package): a real server, no install, no Docker.

`python -m local.postgres watch <data dir>` is the watchdog `start_embedded` leaves beside the
process that started the server (see `_watch`).
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    _start_watchdog(data_dir)
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


def stop_embedded(server: Any) -> None:
    """Close this process's handle on the server; the last handle stops it.

    pgserver stops the server whose pid it found when it attached: if PostgreSQL was
    restarted since (an operator's `pg_ctl restart`, a test), that pid is gone and the
    running server would be left behind, so the current one is looked up first.
    """
    from pgserver.utils import PostmasterInfo

    current = PostmasterInfo.read_from_pgdata(server.pgdata)
    if current is not None and current.is_running():
        server._postmaster_info = current  # pgserver keeps it there only
    server.cleanup()


def restart_embedded(data_dir: Path) -> None:
    """Restart the server of `data_dir` as an operator would (`pg_ctl restart`, fast mode:
    sessions are cut off, open transactions rolled back), with the options it runs with."""
    from pgserver._commands import pg_ctl

    log = str(data_dir / "log")
    pg_ctl(["-w", "-m", "fast", "-l", log, "restart"], pgdata=data_dir, user=_server_user())


def _server_user() -> str | None:
    """The system user pgserver runs PostgreSQL as: its own one under root (PostgreSQL
    refuses to run as root), else this process's."""
    return "pgserver" if os.geteuid() == 0 else None


def _start_watchdog(data_dir: Path) -> None:
    """Leave a small process that stops the server once this one dies, however it dies.

    pgserver runs PostgreSQL as a daemon and stops it when its last handle closes, which a
    process killed outright (SIGKILL, the OOM killer) never does: the server would go on
    running, holding its data directory, with nobody to stop it. The watchdog reads a pipe
    this process holds the other end of; the pipe closes when this process dies.
    """
    read_end, write_end = os.pipe()
    subprocess.Popen(  # noqa: S603 - our own module, by absolute interpreter path
        [sys.executable, "-m", "local.postgres", "watch", str(data_dir), str(os.getpid())],
        stdin=read_end,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for the runtime is not its to handle
        cwd=Path(__file__).resolve().parents[1],
    )
    os.close(read_end)
    os.set_inheritable(write_end, False)  # children of this process must not keep it open
    # Kept open (never closed) until this process exits: its closing is the signal.
    _WATCHDOG_PIPES.append(write_end)


_WATCHDOG_PIPES: list[int] = []


def _watch(data_dir: Path, owner_pid: int) -> None:
    """Wait for the owner to die, then stop the server unless a live process still holds a
    handle on it (a restarted runtime, `herald migrate`). Serialised with pgserver's own
    start and stop by its inter-process lock, so a runtime starting meanwhile either finds
    the server stopped and starts it, or is counted as a handle and keeps it."""
    import psutil  # type: ignore[import-untyped]
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList, PostmasterInfo

    sys.stdin.buffer.read()  # returns at EOF: the owner is gone
    with PostgresServer._lock:  # pgserver's lock: handles, starts, stops
        handles = DiskList(data_dir / ".handle_pids.json")
        alive = [pid for pid in handles.get() if pid != owner_pid and _running(psutil, pid)]
        handles.put(alive)
        if alive:
            return
        info = PostmasterInfo.read_from_pgdata(data_dir)
        if info is not None and info.is_running():
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=_server_user())


def _running(psutil: Any, pid: int) -> bool:
    """Alive, a zombie (dead, not yet reaped by its parent) not counted."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "watch":
        _watch(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: python -m local.postgres watch <data dir> <owner pid>")
