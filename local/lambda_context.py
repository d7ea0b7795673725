"""Lambda execution environments on a laptop: a context object and one-at-a-time invocation.

A `LocalFunction` stands for one execution environment of a deployed function: AWS never runs
two invocations in the same environment at once, and Herald's handlers rely on that (one
database connection per environment, module-level clients), so invocations are serialized.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

# moto's default account, so ARNs built here match the ones moto hands out.
DEFAULT_ACCOUNT_ID = "123456789012"


class LambdaContext:
    """A minimal stand-in for the context object the Lambda runtime passes to handlers."""

    def __init__(
        self,
        function_name: str,
        timeout_seconds: float = 30,
        memory_mb: int = 512,
        *,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        log_stream_name: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name or new_log_stream_name()
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation's timeout, never negative."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def new_log_stream_name() -> str:
    """A log stream name shaped like Lambda's: `YYYY/MM/DD/[$LATEST]<32 hex>`."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


Handler = Callable[[dict[str, Any], Any], Any]


class LocalFunction:
    """One handler run as one Lambda execution environment: one invocation at a time."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        timeout_seconds: float = 30,
        *,
        memory_mb: int = 512,
        region: str = "us-east-1",
    ) -> None:
        self.name = name
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.region = region
        self._lock = threading.Lock()
        # One environment, one log stream, as in CloudWatch.
        self._log_stream_name = new_log_stream_name()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler with a fresh context; exceptions propagate to the caller."""
        with self._lock:
            context = LambdaContext(
                self.name,
                self.timeout_seconds,
                self.memory_mb,
                region=self.region,
                log_stream_name=self._log_stream_name,
            )
            started = time.monotonic()
            try:
                return self.handler(event, context)
            finally:
                elapsed = time.monotonic() - started
                # A thread cannot be killed, so the timeout is reported rather than enforced:
                # the same code would have been cut off in AWS.
                if elapsed > self.timeout_seconds:
                    logger.warning(
                        "%s took %.1f s, over its %.0f s timeout: AWS would have stopped it",
                        self.name,
                        elapsed,
                        self.timeout_seconds,
                    )
