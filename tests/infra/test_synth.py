"""`python app.py` synthesizes on a machine without Docker, bundling every asset locally.

The one slow infra test (pip resolves and downloads the dependencies layer): everything else
asserts on the in-process synthesis of conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import constants
from infra.bundling import directory_size, lambda_python
from infra.constants import LAMBDA_UNZIPPED_LIMIT_BYTES, REPO_ROOT, FunctionSpec
from tests.infra.cfn import herald_functions, logical_id, of_type

pytestmark = pytest.mark.infra
# The tag of the runtime Python's bytecode files: `handler.cpython-313.pyc`.
TAG = "cpython-" + constants.LAMBDA_PYTHON_VERSION.replace(".", "")


@pytest.fixture(scope="module")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("assembly")
    subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        check=True,
        capture_output=True,
        text=True,
    )
    return outdir


def _asset_dir(outdir: Path, resource: dict[str, Any]) -> Path:
    properties = resource["Properties"]
    code = properties.get("Content") or properties["Code"]
    # The asset's S3 key is "<hash>.zip"; CDK stages it as asset.<hash>/.
    return outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"


@pytest.fixture(scope="module")
def assembled_template(cloud_assembly: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((cloud_assembly / "Herald.template.json").read_text())
    return template


def test_the_template_is_written_to_the_requested_outdir(cloud_assembly: Path) -> None:
    # given / when: app.py ran with CDK_OUTDIR

    # then
    assert (cloud_assembly / "Herald.template.json").is_file()
    assert (cloud_assembly / "manifest.json").is_file()


def test_dependencies_layer_holds_the_pinned_packages_for_arm64(
    cloud_assembly: Path, assembled_template: dict[str, Any]
) -> None:
    # given
    layers = of_type(assembled_template["Resources"], "AWS::Lambda::LayerVersion").values()

    # when
    (dependencies,) = [
        _asset_dir(cloud_assembly, layer) / "python"
        for layer in layers
        if "dependencies" in layer["Properties"]["Description"]
    ]

    # then
    assert (dependencies / "psycopg").is_dir()
    assert (dependencies / "sendgrid").is_dir()
    assert (dependencies / "aws_lambda_powertools").is_dir()
    assert list((dependencies / "pydantic_core").glob("*aarch64-linux-gnu.so")), "ARM64 binaries"
    bytecode = [path.name for path in dependencies.rglob("*.pyc")]
    assert all(f".{TAG}." in name for name in bytecode), "no other Python's"
    if lambda_python() is not None:
        pydantic_main = dependencies / "pydantic" / "__pycache__" / f"main.{TAG}.pyc"
        assert pydantic_main.is_file()
        assert not list((dependencies / "twilio").rglob("*.pyc")), "loaded a few modules at a time"


def test_function_code_keeps_the_handler_module_path(
    cloud_assembly: Path, assembled_template: dict[str, Any]
) -> None:
    # given
    api = herald_functions(assembled_template["Resources"])["functions.api.handler.handler"]

    # when
    code = _asset_dir(cloud_assembly, api)

    # then
    assert (code / "functions" / "__init__.py").is_file()
    assert (code / "functions" / "api" / "handler.py").is_file()
    assert not (code / "functions" / "dispatch").exists(), "only the function's own directory"
    if lambda_python() is not None:
        bytecode = code / "functions" / "api" / "__pycache__" / f"handler.{TAG}.pyc"
        assert bytecode.is_file(), "compiled for the runtime: Lambda cannot keep what it compiles"


def test_the_core_layer_ships_the_herald_package_with_its_bytecode(
    cloud_assembly: Path, assembled_template: dict[str, Any]
) -> None:
    # given
    layers = of_type(assembled_template["Resources"], "AWS::Lambda::LayerVersion").values()

    # when
    (core,) = [
        _asset_dir(cloud_assembly, layer) / "python"
        for layer in layers
        if "herald package" in layer["Properties"]["Description"]
    ]

    # then
    assert (core / "herald" / "db" / "connection.py").is_file()
    bytecode = [path.name for path in core.rglob("*.pyc")]
    assert all(f".{TAG}." in name for name in bytecode), "no other Python's"
    if lambda_python() is not None:
        assert len(bytecode) == len(list(core.rglob("*.py")))


def test_every_function_fits_lambdas_unzipped_size_limit(
    cloud_assembly: Path, assembled_template: dict[str, Any]
) -> None:
    # given
    resources = assembled_template["Resources"]

    # when
    sizes = {
        handler: directory_size(_asset_dir(cloud_assembly, function))
        + sum(
            directory_size(_asset_dir(cloud_assembly, resources[logical_id(layer)]))
            for layer in function["Properties"]["Layers"]
        )
        for handler, function in herald_functions(resources).items()
    }

    # then: every function infra/constants.py names is deployed, and fits
    specs = [value for value in vars(constants).values() if isinstance(value, FunctionSpec)]
    assert set(sizes) == {spec.handler for spec in specs}
    assert max(sizes.values()) < LAMBDA_UNZIPPED_LIMIT_BYTES, sizes


def test_cfn_lint_finds_no_error(cloud_assembly: Path) -> None:
    # given
    template = cloud_assembly / "Herald.template.json"

    # when
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )

    # then: exit code bit 2 means errors (4 is warnings, 8 informational)
    assert result.returncode & 2 == 0, result.stdout + result.stderr
