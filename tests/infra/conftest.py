"""One in-process synthesis of the Herald app per test session, with asset bundling skipped.

Bundling (pip for the dependencies layer) is exercised once, by test_synth.py, in a subprocess.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.stack import HeraldStack

# CDK bundles only the stacks listed here; the others' assets point at their sources.
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="session")
def herald_stack(tmp_path_factory: pytest.TempPathFactory) -> HeraldStack:
    _, stack = build_app(SKIP_BUNDLING, outdir=tmp_path_factory.mktemp("cdk.out"))
    return stack


@pytest.fixture(scope="session")
def template(herald_stack: HeraldStack) -> Template:
    # Synthesizing also runs the cdk-nag plugin: a finding fails every test using the template.
    return Template.from_stack(herald_stack)


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return resources
