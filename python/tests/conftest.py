"""Shared fixtures: the repository's shipped models and digits, and the command-line tool
the Python results are compared with."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Tuple

import numpy as np
import numpy.typing as npt
import pytest

import tdsnn

REPO = Path(__file__).resolve().parents[2]
LENET_G = REPO / "fixtures" / "lenet" / "lenet5-g-L5.safetensors"
LENET_RELU = REPO / "fixtures" / "lenet" / "lenet5-relu.safetensors"
MNIST = REPO / "fixtures" / "mnist"
ONNX = REPO / "fixtures" / "onnx"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository's top directory."""
    return REPO


@pytest.fixture(scope="session")
def lenet() -> tdsnn.Network:
    """The shipped LeNet-5 DNN(G), L = 5."""
    return tdsnn.load(LENET_G)


@pytest.fixture(scope="session")
def digits() -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The 2,000 shipped held-out digits and their labels."""
    return tdsnn.load_idx(MNIST)


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `tdsnn` command-line tool: `$TDSNN_CLI`, else the one `cargo test` builds (with
    the test profile, optimised: what the test command has built already)."""
    given = os.environ.get("TDSNN_CLI")
    if given:
        return Path(given)
    subprocess.run(
        ["cargo", "test", "--quiet", "--no-run", "-p", "tdsnn-cli"],
        cwd=REPO,
        check=True,
    )
    return REPO / "target" / "debug" / "tdsnn"
