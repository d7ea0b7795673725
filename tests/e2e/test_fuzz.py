"""Schemathesis fuzzes every operation of the OpenAPI document against a running `herald dev`.

The document is read from the API itself, so an operation added later is fuzzed without a
line here. A fixed seed and a bounded number of examples per operation keep the run
reproducible and a couple of minutes long; its own `herald dev` keeps what it creates away
from the other end-to-end tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalHerald, start_herald

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = 20261202
MAX_EXAMPLES = 10
CHECKS = (
    "not_a_server_error",  # no 5xx, whatever the input
    "status_code_conformance",  # every status answered is declared for the operation
    "content_type_conformance",  # ... with the declared media type
    "response_schema_conformance",  # ... and a body its schema accepts
    "ignored_auth",  # an operation that needs a key refuses a request without one
)


@pytest.fixture(scope="module")
def fuzzed_herald(herald_home: Path) -> Iterator[LocalHerald]:
    running = start_herald(herald_home / "fuzz", key="hk_e2e_fuzz_key_0123456789")
    yield running
    running.stop()


def test_no_operation_fails_any_check_on_generated_input(
    fuzzed_herald: LocalHerald, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # when Schemathesis runs every phase (examples, coverage, fuzzing, stateful) against it
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{fuzzed_herald.url}/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {fuzzed_herald.key}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-shrink",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    # then
    output = result.stdout + result.stderr
    tested = re.search(r"Tested:\s+(\d+)", output)
    cases = re.search(r"Test cases:\s+(\d+) generated, (\d+) passed", output)
    with capsys.disabled():
        print(
            f"\nschemathesis (seed {SEED}, max {MAX_EXAMPLES} examples per operation):"
            f" {tested.group(1) if tested else '?'} operations,"
            f" {cases.group(1) if cases else '?'} test cases"
        )
    assert result.returncode == 0, output[-20_000:]
    assert tested and int(tested.group(1)) >= 29, output[-5_000:]
    assert cases and cases.group(1) == cases.group(2), output[-5_000:]
