"""The Python interface as users meet it: what it accepts and converts, what it refuses and
how (typed exceptions carrying the Rust message: file, layer, offset), results that do not
depend on the thread count, the GIL released while the engine runs, versions that agree."""

from __future__ import annotations

import importlib.metadata
import re
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import numpy.typing as npt
import pytest

import tdsnn
from conftest import LENET_G, MNIST, ONNX, REPO

Digits = Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


def tiny() -> tdsnn.Network:
    """3 inputs -> dense 2 + ReLU -> dense 2 (the output), L = 5."""
    return (
        tdsnn.Builder((1, 1, 3))
        .dense([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5]], [0.1, -0.2])
        .relu()
        .dense([[1.0, -1.0], [-0.5, 2.0]])
        .build(leak=5.0)
    )


def test_versions_agree() -> None:
    cargo = (REPO / "python" / "Cargo.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', cargo, re.M)
    assert match is not None
    assert tdsnn.__version__ == match.group(1)
    assert importlib.metadata.version("tdsnn") == tdsnn.__version__


def test_network_properties(lenet: tdsnn.Network) -> None:
    assert lenet.input_shape == (1, 28, 28)
    assert lenet.classes == 10
    assert lenet.leak == 5.0 and lenet.til == "dynamic"
    assert [kind for kind, _ in lenet.layers] == [
        "conv2d", "max_pool", "conv2d", "max_pool", "flatten", "dense", "output",
    ]
    assert lenet.layers[0][1] == (20, 24, 24)
    assert lenet.has_reference
    assert "lenet5-g-L5" in repr(lenet)
    fixed = tdsnn.load(LENET_G, til=40)
    assert fixed.til == 40


def test_images_are_converted_or_refused_clearly(lenet: tdsnn.Network, digits: Digits) -> None:
    images = digits[0][:3]
    want = lenet.run(images, reference=False).arrays
    # Float64 and nested lists are converted; the answers are the float32 images'.
    for given in (images.astype(np.float64), images.tolist()):
        got = lenet.run(given, reference=False).arrays
        assert all(np.array_equal(got[n], want[n]) for n in want)
    with pytest.raises(tdsnn.InputError, match=r"uint8: give float32 values in \[0, 1\]"):
        lenet.run((images * 255).astype(np.uint8))
    with pytest.raises(tdsnn.InputError, match=r"add the batch axis: images\[None\]"):
        lenet.run(images[0])
    with pytest.raises(tdsnn.InputError, match=r"the network takes \(N, 1, 28, 28\)"):
        lenet.run(np.zeros((2, 1, 28, 27), np.float32))
    bad = images.copy()
    bad[2, 0, 5, 7] = 1.5
    with pytest.raises(tdsnn.InputError, match=r"images\[2, 0, 5, 7\] = 1.5 is outside \[0, 1\]"):
        lenet.run(bad)
    bad[2, 0, 5, 7] = np.nan
    with pytest.raises(tdsnn.InputError, match="outside"):
        lenet.run(bad)
    with pytest.raises(tdsnn.InputError, match=r"labels\[1\] = 300 is outside 0..=255"):
        lenet.run(images, labels=[1, 300, 2])
    with pytest.raises(tdsnn.InputError, match=r"shape \[2\], expected \(3,\)"):
        lenet.run(images, labels=[1, 2])
    with pytest.raises(tdsnn.InputError, match="mode \"fast\""):
        lenet.run(images, mode="fast")
    with pytest.raises(tdsnn.InputError, match="threads = 0"):
        lenet.run(images, threads=0)
    # Exceptions are the standard ones' subclasses.
    assert issubclass(tdsnn.InputError, ValueError)
    assert issubclass(tdsnn.FormatError, ValueError)
    assert issubclass(tdsnn.FileError, OSError)


def test_labels_out_of_the_classes_are_refused(lenet: tdsnn.Network, digits: Digits) -> None:
    images = digits[0][:2]
    with pytest.raises(tdsnn.InputError, match="label"):
        lenet.evaluate(images, [3, 10])


def test_files_refused_with_file_and_place(tmp_path: Path) -> None:
    with pytest.raises(tdsnn.FileError, match="missing.safetensors"):
        tdsnn.load(tmp_path / "missing.safetensors")
    with pytest.raises(OSError, match="missing.onnx"):
        tdsnn.load(tmp_path / "missing.onnx", leak=5.0)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(tdsnn.FormatError, match=r'garbage.bin is neither .* starts with "not a mo"'):
        tdsnn.load(garbage)
    # A broken ONNX file names the node.
    with pytest.raises(tdsnn.FormatError, match="unknown_op.onnx.*node"):
        tdsnn.load(ONNX / "broken" / "unknown_op.onnx", leak=5.0)
    with pytest.raises(tdsnn.FormatError, match="truncated.onnx"):
        tdsnn.load(ONNX / "broken" / "truncated.onnx", leak=5.0)
    # An ONNX model says nothing of L: it must be given.
    with pytest.raises(tdsnn.FormatError, match="give leak="):
        tdsnn.load(ONNX / "lenet_g_inline.onnx")
    # A graph file holds no DNN: it is no model, and a model is no graph file.
    graph = tmp_path / "lenet.tdsnn"
    tdsnn.load(LENET_G).save_graph(graph)
    with pytest.raises(tdsnn.FormatError, match="is an engine graph file"):
        tdsnn.load(graph)
    with pytest.raises(tdsnn.FormatError, match="is a model, not an engine graph file"):
        tdsnn.load_graph(LENET_G)
    # A graph file cut short is refused with the byte offset.
    cut = tmp_path / "cut.tdsnn"
    cut.write_bytes(graph.read_bytes()[:200])
    with pytest.raises(tdsnn.FormatError, match="cut.tdsnn"):
        tdsnn.load_graph(cut)
    with pytest.raises(tdsnn.FileError, match="nowhere"):
        tdsnn.load_idx(tmp_path / "nowhere")
    with pytest.raises(tdsnn.InputError, match="split"):
        tdsnn.load_idx(MNIST, split="validation")


def test_onnx_files_load_with_their_external_data() -> None:
    """PyTorch's default export writes the weights beside the model (`.onnx.data`); the
    same network inline, external or aligned to 64 KiB gives the same arrays."""
    images = np.load(ONNX / "inputs.npy")[:4]
    inline = tdsnn.load(ONNX / "lenet_g_inline.onnx", leak=5.0).run(images).arrays
    for name in ("lenet_g_external.onnx", "lenet_g_aligned.onnx"):
        net = tdsnn.load(ONNX / name, leak=5.0)
        assert net.name.endswith(name)
        got = net.run(images).arrays
        assert sorted(got) == sorted(inline)
        assert all(np.array_equal(got[n], inline[n]) for n in inline), name


def test_a_graph_file_runs_the_same_without_its_reference(
    lenet: tdsnn.Network, digits: Digits, tmp_path: Path
) -> None:
    path = tmp_path / "lenet.tdsnn"
    lenet.save_graph(path)
    graph = tdsnn.load_graph(path)
    assert not graph.has_reference and graph.layers == lenet.layers
    images = digits[0][:5]
    got = graph.run(images, reference=False).arrays
    want = lenet.run(images, reference=False).arrays
    assert all(np.array_equal(got[n], want[n]) for n in want)
    with pytest.raises(tdsnn.InputError, match="reference=False"):
        graph.run(images)
    with pytest.raises(tdsnn.InputError, match="cannot be evaluated"):
        graph.evaluate(images, digits[1][:5])


def test_builder_errors_name_the_layer() -> None:
    with pytest.raises(tdsnn.NetworkError, match="layer 0"):
        tdsnn.Builder((1, 1, 3)).dense(np.ones((2, 4))).build(leak=5.0)
    with pytest.raises(tdsnn.InputError, match=r"expected \(out, in, kh, kw\)"):
        tdsnn.Builder((1, 4, 4)).conv2d(np.ones((2, 3, 3)))
    with pytest.raises(tdsnn.NetworkError):
        tdsnn.Builder((1, 1, 2)).dense([[np.inf, 0.0]]).build(leak=5.0)
    with pytest.raises(tdsnn.InputError, match="leak"):
        tdsnn.Builder((1, 1, 2)).dense([[1.0, 0.0]]).build(leak=-1.0)
    with pytest.raises(tdsnn.InputError, match="til"):
        tdsnn.Builder((1, 1, 2)).dense([[1.0, 0.0]]).build(leak=5.0, til="static")


def test_results_and_accessors() -> None:
    net = tiny()
    result = net.run([[[[0.2, 0.9, 0.4]]], [[[0.7, 0.1, 0.0]]]])
    assert len(result) == 2 and result.passed
    assert result.classes.dtype == np.int64 and result.classes.shape == (2,)
    assert result.logits.shape == (2, 2)
    assert np.array_equal(result.spikes(-1), tdsnn.spike_time(result.arrays["input"], 5.0))
    assert result.spikes(0).shape == (2, 2)
    assert result.releases(0).shape == (2,)
    assert np.array_equal(result.frame_origins(0), [0, 0])
    with pytest.raises(tdsnn.InputError, match="the output layer has no spikes"):
        result.spikes(1)
    audit = result.audit
    assert audit is not None and audit["mismatches"] == 0 and audit["neurons"] > 0
    # Arrays are numpy's views of the engine's buffers, not copies.
    assert not result.arrays["layer0_spikes"].flags.owndata


def test_laws_are_vectorised_and_checked() -> None:
    x = np.array([[-1.0, 0.0], [1e-12, 1.0]])
    assert tdsnn.spike_time(x, 5.0).tolist() == [[0, 0], [1, 4]]
    assert tdsnn.spike_time(x, 5.0).dtype == np.uint32
    assert tdsnn.spike_time(1.0, 5.0) == 4 and np.ndim(tdsnn.spike_time(1.0, 5.0)) == 0
    assert tdsnn.g([-3.0], 5.0).tolist() == [1.0]
    assert abs(float(tdsnn.g(1.0, 5.0)) - np.exp(4 / 5)) < 1e-15
    t = np.arange(5)
    w = tdsnn.w_tick(t, 5.0)
    assert np.allclose(w, (1 - np.exp(-1 / 5)) * np.exp(-t / 5), rtol=1e-15, atol=0)
    with pytest.raises(tdsnn.InputError, match="leak"):
        tdsnn.spike_time(1.0, 0.0)
    with pytest.raises(tdsnn.InputError, match="t_il"):
        tdsnn.w_tick([3, -1], 5.0)
    with pytest.raises(tdsnn.InputError, match="not integers"):
        tdsnn.w_tick([1.5], 5.0)


def test_thread_count_never_changes_an_answer(lenet: tdsnn.Network, digits: Digits) -> None:
    images = digits[0][:37]
    one = lenet.run(images, threads=1).arrays
    for threads in (2, 3, 16):
        many = lenet.run(images, threads=threads).arrays
        assert all(np.array_equal(many[n], one[n]) for n in one), threads
    alone = lenet.run(images, threads=3, reference=False).arrays
    assert all(np.array_equal(alone[n], one[n]) for n in alone)


def test_the_gil_is_released_while_the_engine_runs(
    lenet: tdsnn.Network, digits: Digits
) -> None:
    """While one Python thread runs the engine, another runs Python code: with the GIL held
    for the whole call it would not run at all until the call returned."""
    images = digits[0]
    window: List[float] = []

    def work() -> None:
        start = time.perf_counter()
        lenet.run(images, threads=1, reference=False)
        window.extend([start, time.perf_counter()])

    worker = threading.Thread(target=work)
    worker.start()
    stamps = []
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    start, end = window
    assert end - start > 0.1, "a run long enough to tell"
    inside = [s for s in stamps if start + 0.02 < s < end - 0.02]
    assert len(inside) > 1000, f"{len(inside)} Python steps while the engine ran"


def test_two_python_threads_share_a_network(lenet: tdsnn.Network, digits: Digits) -> None:
    images = digits[0][:64]
    whole = lenet.run(images, threads=1)
    halves: Dict[int, tdsnn.RunResult] = {}

    def half(part: npt.NDArray[np.float32], at: int) -> None:
        halves[at] = lenet.run(part, threads=1)

    threads = [
        threading.Thread(target=half, args=(images[:32], 0)),
        threading.Thread(target=half, args=(images[32:], 1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, array in whole.arrays.items():
        joined = np.concatenate([halves[0].arrays[name], halves[1].arrays[name]])
        assert np.array_equal(joined, array), name


def test_bench_times_the_engine(lenet: tdsnn.Network, digits: Digits) -> None:
    speed = lenet.bench(digits[0][:4], repeats=1)
    assert speed["images"] == 4
    assert speed["seconds_per_image"] > 0
    assert speed["delivered_events_per_image"] > 0
    assert speed["paper_events_per_image"] >= speed["delivered_events_per_image"]
    # Each image's layers cut across two threads: the same work, counted alike.
    cut = lenet.bench(digits[0][:4], repeats=1, threads=2)
    assert cut["images"] == 4 and cut["seconds_per_image"] > 0
    for key in ("delivered_events_per_image", "paper_events_per_image"):
        assert cut[key] == speed[key], key
    with pytest.raises(tdsnn.InputError, match="threads = 0"):
        lenet.bench(digits[0][:1], threads=0)
