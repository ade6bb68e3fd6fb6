"""The type stubs are true to the built module (mypy's stubtest compares every name,
signature and default), and the package, its tests and its example type-check strictly
against them, as a user's code would."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

PYTHON = REPO / "python"


CONFIG = str(PYTHON / "pyproject.toml")


def run(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    # mypy's cache goes under target/, wherever it runs from.
    env = {**os.environ, "MYPY_CACHE_DIR": str(REPO / "target" / "mypy-cache")}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_stubs_match_the_built_module() -> None:
    # From the repository's top, so that the installed package is imported, not its
    # source directory (which has no built module).
    done = run("mypy.stubtest", "tdsnn._native", "--mypy-config-file", CONFIG, cwd=str(REPO))
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_tests_and_examples_type_check_strictly() -> None:
    done = run("mypy", "--config-file", CONFIG, "tdsnn", "tests", "examples", "benches", cwd=str(PYTHON))
    assert done.returncode == 0, done.stdout + done.stderr
