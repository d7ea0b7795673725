"""Print the API's OpenAPI document, generated from the code (`make openapi`).

The committed copy, docs/openapi.json, is compared with a fresh one by the tests, so a change
to the contract is always a deliberate, reviewed diff.
"""

from __future__ import annotations

import json
import os

# The API module builds its clients at import; generating the document needs none of them to
# work, only to be constructible.
ENVIRONMENT = {
    "DATABASE_URL": "postgresql://unused/herald",
    "HERALD_DISPATCH_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/unused",
    "HERALD_DISPATCH_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:unused",
    "HERALD_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/unused",
    "HERALD_SWEEPER_ARN": "arn:aws:lambda:us-east-1:123456789012:function:unused",
    "HERALD_LINKS_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unused",
    "HERALD_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:unused",
    "HERALD_WEBHOOK_EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/unused",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def document() -> dict[str, object]:
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    from functions.api.handler import openapi_document

    return openapi_document()


if __name__ == "__main__":
    print(json.dumps(document(), indent=2, sort_keys=True))
