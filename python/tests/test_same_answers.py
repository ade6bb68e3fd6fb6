"""Python and the command-line tool give the same answers: on the shipped LeNet and all 2,000
shipped digits, every array of `Network.run` equals the array of the same name that
`tdsnn run --dump` writes, bit for bit (dtype, shape, values), and `Network.evaluate` equals
`tdsnn run --json`, key for key and value for value."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import numpy.typing as npt
import pytest

import tdsnn
from conftest import LENET_G, LENET_RELU, MNIST, REPO

Digits = Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


@pytest.fixture(scope="module")
def cli_outputs(cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """`tdsnn run` on the shipped LeNet and digits, with its dump and JSON report. Paths are
    given relative to the repository, as a user at its top would type them."""
    out = tmp_path_factory.mktemp("cli")
    dump, report = out / "dump.npz", out / "report.json"
    subprocess.run(
        [
            str(cli), "run",
            "--model", str(LENET_G.relative_to(REPO)),
            "--relu-model", str(LENET_RELU.relative_to(REPO)),
            "--data", str(MNIST.relative_to(REPO)),
            "--threads", "2",
            "--dump", str(dump),
            "--json", str(report),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return dump, report


def test_run_equals_the_dump(
    cli_outputs: Tuple[Path, Path], lenet: tdsnn.Network, digits: Digits
) -> None:
    images, labels = digits
    assert len(images) == 2000
    result = lenet.run(images, labels=labels, threads=2)
    with np.load(cli_outputs[0]) as dump:
        assert sorted(result.arrays) == sorted(dump.files)
        for name in dump.files:
            ours, theirs = result.arrays[name], dump[name]
            assert ours.dtype == theirs.dtype, name
            assert ours.shape == theirs.shape, name
            assert np.array_equal(ours, theirs), name
    assert result.passed
    # The engine alone gives the same engine arrays, and holds no reference arrays.
    alone = lenet.run(images, labels=labels, threads=1, reference=False)
    assert alone.audit is None and alone.passed is None
    reference_only = {"classes_dnn", "logits_dnn"} | {
        n for n in result.arrays if n.endswith("_pre_activation")
    }
    assert sorted(alone.arrays) == sorted(set(result.arrays) - reference_only)
    for name, array in alone.arrays.items():
        assert np.array_equal(array, result.arrays[name]), name


def test_evaluate_equals_the_json_report(
    cli_outputs: Tuple[Path, Path],
    lenet: tdsnn.Network,
    digits: Digits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images, labels = digits
    # Models named as the command was given them: relative to the repository.
    monkeypatch.chdir(REPO)
    relu = tdsnn.load(LENET_RELU.relative_to(REPO), leak=5.0)
    report: Dict[str, Any] = json.loads(cli_outputs[1].read_text())
    # The CLI names the data by its images file; from Python it is an array, named here.
    ours = tdsnn.load(LENET_G.relative_to(REPO)).evaluate(
        images, labels, threads=2, relu=relu, data_name=report["setup"]["data"]
    )
    assert ours == report
    assert ours["spike_times"]["mismatches"] == 0
    assert ours["agreement"]["count"] == 2000
    # Unnamed, the data are described by their shape.
    unnamed = lenet.evaluate(images[:10], labels[:10], threads=1)
    assert unnamed["setup"]["data"] == "array of shape (10, 1, 28, 28)"
    assert unnamed["setup"]["relu_model"] is None
