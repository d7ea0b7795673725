"""The Lambda context stand-in and one-at-a-time execution environments."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.lambda_context import LambdaContext, LocalFunction


def test_context_looks_like_lambdas() -> None:
    # given / when
    context = LambdaContext("herald-api", timeout_seconds=2, memory_mb=256)

    # then
    assert context.function_name == "herald-api"
    assert context.function_version == "$LATEST"
    assert context.invoked_function_arn == (
        "arn:aws:lambda:us-east-1:123456789012:function:herald-api"
    )
    assert context.memory_limit_in_mb == 256
    assert context.log_group_name == "/aws/lambda/herald-api"
    assert "[$LATEST]" in context.log_stream_name
    assert 1900 < context.get_remaining_time_in_millis() <= 2000


def test_remaining_time_counts_down_to_zero() -> None:
    # given
    context = LambdaContext("f", timeout_seconds=0.05)

    # when
    time.sleep(0.08)

    # then
    assert context.get_remaining_time_in_millis() == 0


def test_each_invocation_gets_a_fresh_request_id_and_errors_propagate() -> None:
    # given
    contexts: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> str:
        contexts.append(context)
        if event.get("fail"):
            raise ValueError("bad event")
        return "ok"

    function = LocalFunction("f", handler)

    # when
    results = [function.invoke({}), function.invoke({})]
    with pytest.raises(ValueError, match="bad event"):
        function.invoke({"fail": True})

    # then
    assert results == ["ok", "ok"]
    assert len({c.aws_request_id for c in contexts}) == 3
    assert len({c.log_stream_name for c in contexts}) == 1  # one environment, one stream
