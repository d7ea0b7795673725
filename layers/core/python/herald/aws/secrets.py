"""Secrets: provider credentials and the link key through Powertools' cached parameters
provider, the database credentials with one botocore call.

Powertools' parameters module imports boto3 (~250 ms with its dependencies), so it is imported
where a secret is first read, not at cold start; the database credentials, read once per
execution environment, need no cache and go through herald.aws.clients.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from herald.aws.clients import aws_client
from herald.settings import Settings

# Provider credentials are re-read every five minutes, so a rotated key takes effect
# without a redeploy.
_SECRET_MAX_AGE = 300


def provider_credentials(secret_id: str) -> dict[str, Any]:
    """Return the provider-credentials JSON secret (cached per execution environment)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, transform="json", max_age=_SECRET_MAX_AGE)
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value


def link_signing_key(secret_id: str) -> bytes:
    """The HMAC key of end-user links (cached per execution environment).

    Changing the secret invalidates every unsubscribe and preference link already sent.
    """
    return plain_secret(secret_id).encode()


def plain_secret(secret_id: str) -> str:
    """A secret holding one string (cached per execution environment)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, max_age=_SECRET_MAX_AGE)
    if not isinstance(value, str):
        raise ValueError(f"secret {secret_id} is not a string")
    return value


def database_url(settings: Settings) -> str:
    """The URL given directly (local, tests), or one built from the RDS secret (AWS)."""
    if settings.database_url:
        return settings.database_url
    if not (settings.database_secret_arn and settings.database_host):
        raise ValueError("set DATABASE_URL, or HERALD_DATABASE_SECRET_ARN and HERALD_DATABASE_HOST")
    response = aws_client("secretsmanager").get_secret_value(SecretId=settings.database_secret_arn)
    secret = json.loads(response["SecretString"])
    if not isinstance(secret, dict):
        raise ValueError("the database secret is not a JSON object")
    user = quote(str(secret["username"]), safe="")
    password = quote(str(secret["password"]), safe="")
    port = secret.get("port", 5432)
    return (
        f"postgresql://{user}:{password}@{settings.database_host}:{port}/"
        f"{settings.database_name}?sslmode=require"
    )
