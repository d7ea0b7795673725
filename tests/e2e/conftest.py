"""End-to-end: `herald dev` runs as a subprocess and tests speak HTTP to it, as a user would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local.aws_resources import free_port

ROOT = Path(__file__).resolve().parents[2]
HERALD = Path(sys.executable).with_name("herald")


@dataclass
class LocalHerald:
    url: str
    key: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=10
        )

    def stop(self) -> int:
        """Ctrl-C, as a developer would; returns the exit code. When it does not exit in
        time, its threads' stacks go to its log (faulthandler, on SIGABRT) and the error
        shows the end of the log."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            self.process.wait(timeout=10)
            raise AssertionError(
                f"herald dev did not exit within 30 s of Ctrl-C:\n{self.log.read_text()[-6000:]}"
            ) from None


def start_herald(
    home: Path, key: str = "hk_e2e_dev_key_0123456789", env: dict[str, str] | None = None
) -> LocalHerald:
    # A port given in `env` is kept, e.g. by a test restarting Herald on the same one.
    port = int((env or {}).get("HERALD_PORT") or free_port())
    log = home.parent / f"{home.name}.log"
    env = {
        **os.environ,
        "HERALD_HOME": str(home),
        "HERALD_PORT": str(port),
        "HERALD_DEV_API_KEY": key,
        # Webhook retries a second apart instead of over a day, so tests watch them all.
        "HERALD_WEBHOOK_RETRY_SCHEDULE": "[0, 1, 1, 1, 1, 1]",
        "HERALD_WEBSOCKET_PORT": str(free_port()),
        "PYTHONFAULTHANDLER": "1",  # stacks in the log if it must be aborted
        **(env or {}),
    }
    env.pop("DATABASE_URL", None)
    env.pop("AWS_ENDPOINT_URL", None)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(HERALD), "dev"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    herald = LocalHerald(f"http://127.0.0.1:{port}", key, home, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"herald dev exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{herald.url}/v1/health", timeout=1).status_code == 200:
                return herald
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"herald dev did not answer within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def herald_home() -> Iterator[Path]:
    # Short path: PostgreSQL's socket lives under it.
    base = Path(tempfile.mkdtemp(prefix="he2e"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def herald(herald_home: Path) -> Iterator[LocalHerald]:
    running = start_herald(herald_home / "main")
    yield running
    if running.process.poll() is None:
        running.stop()


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` returns something truthy; return it, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)
