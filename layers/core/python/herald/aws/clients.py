"""AWS API clients: botocore alone, one session, each client made on first use.

boto3 adds nothing Herald uses (resources, S3 transfers) but about 150 ms of imports
(s3transfer among them) to every cold start; and a client made at import loads its service
model even in an execution environment that never calls it (an API instance serving only
reads never sends to SQS). botocore reads the same configuration as boto3: AWS_REGION /
AWS_DEFAULT_REGION, credentials, AWS_ENDPOINT_URL (the local runtime's moto).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_session: Any = None


def session() -> Any:
    """The botocore session of this execution environment (made on first use)."""
    global _session  # noqa: PLW0603 - one session per execution environment
    with _lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        return _session


def aws_client(service: str, endpoint_url: str | None = None, **options: Any) -> Any:
    """A new botocore client for `service` (sessions are not safe to share unlocked);
    `endpoint_url` for a service reached at an address of its own (a WebSocket API's
    management endpoint); `options` as botocore's `create_client` takes them (the region,
    keys of another account)."""
    shared = session()
    with _lock:
        return shared.create_client(service, endpoint_url=endpoint_url, **options)
