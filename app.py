"""The Herald CDK app: `cdk deploy` (or `python app.py` to synthesize into cdk.out/)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.bundling import runtime_dependencies
from infra.constants import (
    DEFAULT_EMAIL_FROM,
    EMAIL_FROM_CONTEXT_KEY,
    REPO_ROOT,
    STACK_NAME,
)
from infra.profile import PROFILE_CONTEXT_KEY, profile_named
from infra.stack import HeraldStack


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json (feature flags), which only the CDK CLI would otherwise pass.

    Given to the App as defaults, so `python app.py` and the tests synthesize what
    `cdk deploy` deploys; the CLI's own context still takes precedence.
    """
    with (REPO_ROOT / "cdk.json").open() as file:
        return dict(json.load(file).get("context", {}))


def build_app(
    context: Mapping[str, Any] | None = None, outdir: Path | None = None
) -> tuple[cdk.App, HeraldStack]:
    """The app with its one stack, checked by cdk-nag's AWS Solutions rules.

    Synthesizes into `outdir`, else where the CDK CLI says (CDK_OUTDIR), else `cdk.out/`.
    """
    app = cdk.App(
        context={**cdk_json_context(), **(context or {})},
        outdir=str(outdir or os.environ.get("CDK_OUTDIR") or REPO_ROOT / "cdk.out"),
    )
    email_from = app.node.try_get_context(EMAIL_FROM_CONTEXT_KEY) or DEFAULT_EMAIL_FROM
    stack = HeraldStack(
        app,
        STACK_NAME,
        stack_name=STACK_NAME,
        description="Herald: self-hosted serverless notification service",
        requirements=runtime_dependencies(),
        email_from=email_from,
        # `-c profile=small` (default) or `-c profile=production`: see infra/profile.py.
        profile=profile_named(app.node.try_get_context(PROFILE_CONTEXT_KEY)),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
