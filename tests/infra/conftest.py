"""One in-process synthesis of the Herald app per deployment profile per test session, with asset
bundling skipped.

Tests taking `herald_stack`, `template` or `resources` run once per profile (`small`, the
default, and `production`); `small_resources` and `production_resources` are for what differs.
Bundling (pip for the dependencies layer) is exercised once, by test_synth.py, in a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.profile import PROFILE_CONTEXT_KEY, PROFILES
from infra.stack import HeraldStack

# CDK bundles only the stacks listed here; the others' assets point at their sources.
SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}


class Synthesized:
    """Each profile's stack and template, synthesized on first use."""

    def __init__(self, outdir: Path) -> None:
        self._outdir = outdir
        self._stacks: dict[str, HeraldStack] = {}
        self._templates: dict[str, Template] = {}

    def stack(self, profile: str) -> HeraldStack:
        if profile not in self._stacks:
            _, self._stacks[profile] = build_app(
                {**SKIP_BUNDLING, PROFILE_CONTEXT_KEY: profile}, outdir=self._outdir / profile
            )
        return self._stacks[profile]

    def template(self, profile: str) -> Template:
        # Synthesizing also runs the cdk-nag plugin: a finding fails every test using it.
        if profile not in self._templates:
            self._templates[profile] = Template.from_stack(self.stack(profile))
        return self._templates[profile]

    def resources(self, profile: str) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template(profile).to_json()["Resources"]
        return resources


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session", params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def herald_stack(synthesized: Synthesized, profile: str) -> HeraldStack:
    return synthesized.stack(profile)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized, profile: str) -> Template:
    return synthesized.template(profile)


@pytest.fixture(scope="session")
def resources(synthesized: Synthesized, profile: str) -> dict[str, dict[str, Any]]:
    return synthesized.resources(profile)


@pytest.fixture(scope="session")
def small_resources(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.resources("small")


@pytest.fixture(scope="session")
def production_resources(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.resources("production")
