"""The example python/examples/lenet_raster.py runs as a script, as a user would run it, and
writes a real picture and the accuracy the package itself computes."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import numpy as np
import numpy.typing as npt
import pytest

import tdsnn

pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lenet_raster.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, str]:
    """The example run once, from a scratch directory, writing `raster.png` there: the PNG
    path and what it printed."""
    where = tmp_path_factory.mktemp("example")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(where / "raster.png")],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return where / "raster.png", done.stdout


def test_writes_a_png(ran: Tuple[Path, str]) -> None:
    png, stdout = ran
    assert png.is_file(), stdout
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    # The first chunk is IHDR: width and height, big-endian; the last is IEND.
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 400, (width, height)
    assert data[-8:-4] == b"IEND"
    # A raster of 20,000 spikes and a histogram, not an empty canvas.
    assert len(data) > 30_000, len(data)
    assert f"wrote {png}" in stdout


def test_prints_the_accuracy_and_the_audit(
    ran: Tuple[Path, str],
    lenet: tdsnn.Network,
    digits: Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]],
) -> None:
    _, stdout = ran
    images, labels = digits
    result = lenet.run(images[:100], labels=labels[:100])
    correct = int((result.classes == labels[:100]).sum())
    lines = stdout.splitlines()
    assert f"SNN accuracy: {correct} of 100 digits ({correct / 100:.2%})" in lines, stdout
    assert f"audit: {result.audit}" in lines, stdout
    assert "passed: True" in lines, stdout


def test_default_output_is_in_the_current_directory(tmp_path: Path) -> None:
    """Without an argument the picture is `lenet_raster.png` where the example is run; a
    few digits are enough for that."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--count", "3", "--digit", "2"],
        cwd=tmp_path,
        env=dict(os.environ, MPLBACKEND="Agg"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    png = tmp_path / "lenet_raster.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "SNN accuracy: " in done.stdout and " of 3 digits " in done.stdout
