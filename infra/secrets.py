"""Herald's own secrets: provider credentials (SendGrid today; Twilio, FCM, VAPID later) and
the key that signs end-user links."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constants import (
    LINKS_SECRET_LENGTH,
    LINKS_SECRET_NAME,
    PROVIDER_SECRET_KEYS,
    PROVIDER_SECRET_NAME,
    VAPID_SECRET_LENGTH,
    VAPID_SECRET_NAME,
)
from infra.functions import Binding

# Deployed with generated dummy values that the operator replaces (docs/infrastructure.md).
_PLACEHOLDER = "replace-me"


class ProviderSecret(Construct):
    """A JSON secret with one key per provider credential, read with Powertools parameters."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        generated_key, *other_keys = PROVIDER_SECRET_KEYS
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=PROVIDER_SECRET_NAME,
            description="Herald provider credentials (JSON); fill in after the first deploy",
            # Secrets Manager can only generate one key; a random value there fails loudly at
            # the provider (401) rather than looking like a real credential.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(dict.fromkeys(other_keys, _PLACEHOLDER)),
                generate_string_key=generated_key,
                exclude_punctuation=True,
            ),
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "Third-party provider credentials (SendGrid API key, webhook public key) "
                    "can only be rotated at the provider; the operator replaces them with "
                    "put-secret-value (docs/infrastructure.md)."
                ),
            )
        )

    def reader(self) -> Binding:
        """Read the credentials (GetSecretValue/DescribeSecret on this secret only)."""
        return Binding(
            environment={"HERALD_PROVIDER_SECRET_ID": self.secret.secret_arn},
            grant=self.secret.grant_read,
        )


class LinkSigningSecret(Construct):
    """A random string that signs unsubscribe and preference-center links (HMAC-SHA256).

    Only the functions that issue links (the email worker) or open them (the API) may read it.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=LINKS_SECRET_NAME,
            description="Herald: signs the unsubscribe and preference links in messages",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=LINKS_SECRET_LENGTH, exclude_punctuation=True
            ),
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "A new key invalidates every unsubscribe and preference link in messages "
                    "already sent, which RFC 8058 and the law expect to keep working; the "
                    "operator rotates it deliberately with put-secret-value "
                    "(docs/infrastructure.md)."
                ),
            )
        )

    def reader(self) -> Binding:
        """Read the key (GetSecretValue/DescribeSecret on this secret only)."""
        return Binding(
            environment={"HERALD_LINKS_SECRET_ID": self.secret.secret_arn},
            grant=self.secret.grant_read,
        )


class VapidSecret(Construct):
    """A random string the web push VAPID key pair (RFC 8292) is derived from.

    Read by the API (it serves the public key browsers subscribe with) and the web push
    worker (it signs with the private key).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=VAPID_SECRET_NAME,
            description="Herald: the web push VAPID key pair is derived from it",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=VAPID_SECRET_LENGTH, exclude_punctuation=True
            ),
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "A new key pair orphans every browser subscription made with the old "
                    "public key; the operator rotates it deliberately with put-secret-value "
                    "(docs/infrastructure.md)."
                ),
            )
        )

    def reader(self) -> Binding:
        """Read the secret (GetSecretValue/DescribeSecret on this secret only)."""
        return Binding(
            environment={"HERALD_VAPID_SECRET_ID": self.secret.secret_arn},
            grant=self.secret.grant_read,
        )
