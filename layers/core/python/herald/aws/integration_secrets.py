"""One Secrets Manager secret per integration, named under the deployment's prefix.

The API function may create, change and delete secrets under `{prefix}/` only (its IAM policy
names that prefix); workers read them through `herald.aws.secrets.provider_credentials`
(Powertools' cached provider).
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client


class IntegrationSecrets:
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix.rstrip("/")

    def name_for(self, tenant_id: str, integration_id: str) -> str:
        return f"{self._prefix}/{tenant_id}/{integration_id}"

    def create(self, name: str, credentials: dict[str, Any]) -> str:
        """Store the credentials as a new secret; returns its ARN."""
        response = self._client.create_secret(
            Name=name,
            SecretString=json.dumps(credentials),
            Description="Herald integration credentials",
        )
        return str(response["ARN"])

    def replace(self, secret_id: str, credentials: dict[str, Any]) -> None:
        """A new version of the credentials (workers see it within their cache's age)."""
        self._client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(credentials))

    def read(self, secret_id: str) -> dict[str, Any]:
        """The current credentials, read now (not cached: a test call after a change must
        use the new ones)."""
        value = json.loads(self._client.get_secret_value(SecretId=secret_id)["SecretString"])
        if not isinstance(value, dict):
            raise ValueError(f"secret {secret_id} is not a JSON object")
        return value

    def delete(self, secret_id: str) -> None:
        """Delete at once (no recovery window): a deleted integration's keys must not linger.
        A secret already gone is not an error."""
        try:
            self._client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
        except self._client.exceptions.ResourceNotFoundException:
            return

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("secretsmanager")
