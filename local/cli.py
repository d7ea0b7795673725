"""The `herald` command: `herald dev`, `herald migrate`, `herald create-tenant`,
`herald batch send`, `herald stats`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from local import client_cli


def _dev(_: argparse.Namespace) -> int:
    from local.runtime import Runtime, RuntimeConfig

    runtime = Runtime(RuntimeConfig.from_environment())
    try:
        runtime.start()
    except BaseException:
        runtime.stop()
        raise
    assert runtime.gateway is not None and runtime.websocket is not None
    print(
        f"\nHerald is running on {runtime.gateway.url}\n"
        f"  API key (admin, dev tenant): {runtime.api_key}\n"
        f"  also in {runtime.config.home / 'dev-api-key'}\n"
        f"  outbox:   {runtime.gateway.url}/_dev/outbox\n"
        f"  API docs: {runtime.gateway.url}/v1/docs\n"
        f"  inbox realtime (WebSocket): {runtime.websocket.url}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    runtime.wait()
    print("Herald stopped.", flush=True)
    _exit_after(EXIT_GRACE_SECONDS)
    return 0


# After every part has stopped, what is left is the interpreter's exit joining the threads
# of invocations still in flight (a provider call through a send pool, a reconnect to the
# stopped database). Ctrl-C must not hang on them: their leases lapse and the next start
# recovers their deliveries, as after a crash.
EXIT_GRACE_SECONDS = 10.0


def _exit_after(seconds: float) -> None:
    """Let the interpreter exit normally, or end the process `seconds` from now, naming the
    threads that held it (with their stacks) in the log."""

    def end() -> None:
        import faulthandler

        held = [t.name for t in threading.enumerate() if not t.daemon and t.is_alive()]
        logging.getLogger("herald.dev").warning(
            "exiting %.0f s after stopping; threads still running: %s", seconds, ", ".join(held)
        )
        faulthandler.dump_traceback(all_threads=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


def _database_url() -> tuple[str, object | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    from local.postgres import start_embedded

    server, url = start_embedded(Path(os.environ.get("HERALD_HOME", ".herald")).resolve() / "pg")
    return url, server


def _migrate(_: argparse.Namespace) -> int:
    from herald.db.migrate import migrate

    url, _server = _database_url()
    applied = migrate(url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def _create_tenant(args: argparse.Namespace) -> int:
    from herald.db.connection import Database
    from herald.services.tenants import create_tenant

    url, _server = _database_url()
    db = Database(url)
    tenant_id, key = create_tenant(db, args.name)
    print(f"tenant {tenant_id}\nadmin API key (shown once): {key.key}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "dev", help="run Herald locally (embedded Postgres, moto, simulator)"
    ).set_defaults(run=_dev)
    commands.add_parser(
        "migrate", help="apply database migrations (DATABASE_URL or embedded)"
    ).set_defaults(run=_migrate)
    tenant = commands.add_parser("create-tenant", help="create a tenant and print its admin key")
    tenant.add_argument("--name", required=True)
    tenant.set_defaults(run=_create_tenant)
    client_cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in ("batch", "stats"):
        return client_cli.run(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # moto's HTTP server and the AWS/HTTP clients log every request at INFO.
    for chatty in ("werkzeug", "botocore", "boto3", "httpx", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
