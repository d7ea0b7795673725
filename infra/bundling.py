"""Lambda assets built on this machine, without Docker.

Three kinds of asset: the dependencies layer (pip, for the Lambda platform), the core layer
(`layers/core`, copied) and each function's code (`functions/<dir>`, copied under the same
module path it has locally). CDK asks an `ILocalBundling` first and only falls back to Docker
when it declines, which these never do: a failure raises instead.

Each asset ships bytecode for the runtime's Python (`compile_bytecode`): Lambda's code and
layer directories are read-only, so whatever Python compiles at import is lost with the
environment, and every cold start would compile every module it imports again.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.constants import (
    CORE_LAYER_DIR,
    FUNCTIONS_ROOT,
    LAMBDA_PYTHON_VERSION,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    LAMBDA_WHEEL_PLATFORMS,
    PYPROJECT,
)

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# Packages of many modules of which a function imports a few, on demand (twilio's generated REST
# API, phonenumbers' metadata of each region): their bytecode would be ~45 MB of the layer's
# 250 MB budget, almost all of it never loaded. What a function imports of them is compiled then.
_PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"
_NOT_PRECOMPILED = r"[/\\](twilio|phonenumbers)[/\\]"
# Never used: local bundling always succeeds or raises. CDK requires an image all the same.
_NO_DOCKER = cdk.DockerImage.from_registry("unused")


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The pinned runtime dependencies in `pyproject.toml`: one list for Lambda and laptops."""
    with pyproject.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def directory_size(path: Path) -> int:
    """Bytes of all regular files under `path` (what Lambda counts as unzipped size)."""
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _run(command: Sequence[str]) -> None:
    # The command is built from our own constants and pyproject.toml, never from user input.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


@functools.cache
def lambda_python() -> str | None:
    """A CPython of the Lambda runtime's version on this machine, whose bytecode the runtime
    loads: `HERALD_LAMBDA_PYTHON`, the running interpreter, `python3.13` on PATH, or pyenv's."""
    version = LAMBDA_PYTHON_VERSION
    candidates = [
        os.environ.get("HERALD_LAMBDA_PYTHON"),
        sys.executable,
        shutil.which(f"python{version}"),
        *sorted(glob.glob(str(_PYENV_VERSIONS / f"{version}.*" / "bin" / f"python{version}"))),
    ]
    probe = "import sys; print('%d.%d' % sys.version_info[:2], sys.implementation.name)"
    for candidate in candidates:
        if not candidate:
            continue
        result = subprocess.run(  # noqa: S603 - an interpreter path, never user input
            [candidate, "-c", probe], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.split() == [version, "cpython"]:
            return candidate
    return None


def compile_bytecode(directory: Path) -> None:
    """Write the bytecode of every module under `directory` for the Lambda runtime's Python.

    Unchecked-hash .pyc files: Python loads them without comparing the source's timestamp,
    which a zip's round trip does not keep (they are built from the very files shipped). With
    no such interpreter on this machine the asset ships sources only, as it says on stderr.
    """
    python = lambda_python()
    if python is None:
        print(
            f"No CPython {LAMBDA_PYTHON_VERSION} here (set HERALD_LAMBDA_PYTHON): {directory.name}"
            " ships without bytecode, compiled by Lambda on every cold start",
            file=sys.stderr,
        )
        return
    _run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-x",
            _NOT_PRECOMPILED,
            str(directory),
        ]
    )


@jsii.implements(cdk.ILocalBundling)
class DependenciesBundler:
    """pip-installs the runtime dependencies for Lambda (ARM64, CPython 3.13) into `python/`."""

    def __init__(self, requirements: Sequence[str]) -> None:
        self._requirements = list(requirements)

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        with tempfile.TemporaryDirectory(prefix="herald-wheels-") as wheelhouse:
            # Some dependencies (e.g. http-ece) publish only an sdist. Building wheels here makes
            # the pure-Python ones installable for any platform; a compiled one would not match
            # the Lambda platform below and fail loudly instead of shipping x86 binaries.
            _run([*pip, "wheel", "--quiet", "--wheel-dir", wheelhouse, *self._requirements])
            platforms = [arg for tag in LAMBDA_WHEEL_PLATFORMS for arg in ("--platform", tag)]
            _run(
                [
                    *pip,
                    "install",
                    "--quiet",
                    "--no-compile",  # the host's Python may not be Lambda's: compiled below
                    "--only-binary=:all:",
                    "--find-links",
                    wheelhouse,
                    *platforms,
                    "--implementation",
                    "cp",
                    "--python-version",
                    LAMBDA_PYTHON_VERSION,
                    "--target",
                    str(target),
                    *self._requirements,
                ]
            )
        compile_bytecode(target)
        size = directory_size(target)
        print(f"Dependencies layer: {size / 1024**2:.1f} MiB unzipped", file=sys.stderr)
        if size > LAMBDA_UNZIPPED_LIMIT_BYTES:
            raise RuntimeError(
                f"The dependencies layer alone is {size} bytes unzipped, over Lambda's limit of "
                f"{LAMBDA_UNZIPPED_LIMIT_BYTES} bytes for a function and its layers."
            )
        return True


@jsii.implements(cdk.ILocalBundling)
class FunctionCodeBundler:
    """Copies `functions/__init__.py` and `functions/<code_dir>/` under `functions/` in the asset.

    The handler module path (e.g. `functions.api.handler`) is then the same in Lambda as in the
    local runtime and the tests.
    """

    def __init__(self, code_dir: str, functions_root: Path = FUNCTIONS_ROOT) -> None:
        self._code_dir = code_dir
        self._functions_root = functions_root

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        package = Path(output_dir) / "functions"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self._functions_root / "__init__.py", package / "__init__.py")
        shutil.copytree(
            self._functions_root / self._code_dir,
            package / self._code_dir,
            ignore=_IGNORED,
            dirs_exist_ok=True,
        )
        compile_bytecode(package)
        return True


@jsii.implements(cdk.ILocalBundling)
class CoreLayerBundler:
    """Copies `layers/core/python` (the `herald` package) into the layer's `python/`."""

    def __init__(self, layer_dir: Path = CORE_LAYER_DIR) -> None:
        self._layer_dir = layer_dir

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        shutil.copytree(self._layer_dir / "python", target, ignore=_IGNORED, dirs_exist_ok=True)
        compile_bytecode(target)
        return True


def _local(bundler: object) -> cdk.BundlingOptions:
    # The bundlers implement ILocalBundling through jsii, which calls try_bundle(output_dir,
    # options) positionally; the generated Protocol spells the options out as keywords.
    return cdk.BundlingOptions(image=_NO_DOCKER, local=cast(cdk.ILocalBundling, bundler))


def dependencies_layer_code(requirements: Sequence[str]) -> lambda_.Code:
    """Layer code with the pinned runtime dependencies, built for the Lambda platform.

    The asset hash is the requirement list and target platform: an unchanged list reuses the
    layer already in `cdk.out` instead of running pip again.
    """
    key = json.dumps([list(requirements), LAMBDA_PYTHON_VERSION, list(LAMBDA_WHEEL_PLATFORMS)])
    return lambda_.Code.from_asset(
        str(PYPROJECT.parent),
        asset_hash=hashlib.sha256(key.encode()).hexdigest(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=_local(DependenciesBundler(requirements)),
    )


def core_layer_code() -> lambda_.Code:
    """Layer code with the `herald` package (`layers/core/python/herald`)."""
    return lambda_.Code.from_asset(
        str(CORE_LAYER_DIR),
        exclude=["**/__pycache__", "**/*.pyc", "**/*.egg-info"],
        # Hash what is shipped (sources and their bytecode), as for the functions' code.
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=_local(CoreLayerBundler()),
    )


def function_code(code_dir: str) -> lambda_.Code:
    """A function's code: `functions/<code_dir>` under its package path."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_ROOT / code_dir),
        # The asset also holds functions/__init__.py: hash what is shipped, not the source dir.
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=_local(FunctionCodeBundler(code_dir)),
    )
