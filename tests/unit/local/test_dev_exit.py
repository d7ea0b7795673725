"""`herald dev` ends after Ctrl-C even when an invocation's thread never returns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STUCK = """
import threading, time
from local.cli import _exit_after
threading.Thread(target=time.sleep, args=(3600,), name="send_0", daemon=False).start()
_exit_after(0.5)
print("main returned", flush=True)
"""
PROMPT = """
from local.cli import _exit_after
_exit_after(30)
print("main returned", flush=True)
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )


def test_a_thread_stuck_after_stopping_does_not_keep_the_process_alive() -> None:
    # given a non-daemon thread that never returns
    # when the main thread is done
    ended = _run(STUCK)

    # then the process ends after the grace period, naming the thread and showing its stack
    assert ended.returncode == 0
    assert "main returned" in ended.stdout
    assert "threads still running: send_0" in ended.stderr
    assert "most recent call first" in ended.stderr


def test_without_stragglers_the_process_exits_at_once() -> None:
    # given no thread left, and a long grace period
    # when the main thread is done
    ended = _run(PROMPT)

    # then the interpreter exits on its own, without waiting for the grace period
    assert ended.returncode == 0
    assert "threads still running" not in ended.stderr
