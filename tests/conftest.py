"""Session-wide real parts for the integration tests: embedded PostgreSQL and moto.

Started once per test session (and per xdist worker); each test gets clean tables and
empty queues, so tests are independent and queues stay shallow.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database on an embedded PostgreSQL server (or DATABASE_URL when set)."""
    from herald.db.migrate import migrate

    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
        migrate(url)
        yield url
        return
    from local.postgres import start_embedded

    # A short path: PostgreSQL's unix socket lives in the data directory (108-byte limit).
    data_dir = Path(tempfile.mkdtemp(prefix="hpg"))
    server, url = start_embedded(data_dir)
    migrate(url)
    yield url
    server.cleanup()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on loopback: boto3 makes real HTTP API calls against it."""
    from moto.server import ThreadedMotoServer

    from local.aws_resources import REGION, free_port

    # Tests purge queues between cases; real SQS (and moto by default) allow one purge a minute.
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    yield endpoint
    server.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
