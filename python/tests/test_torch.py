"""The PyTorch bridge, `tdsnn.from_torch`: a module built here is exported in memory and
converted; the network has the module's layers, its reference DNN(G) is the module's own
forward pass in float64 with `G` in front of every synapse-based layer, the ONNX file route
gives the same arrays bit for bit, and a layer tdsnn cannot convert is refused by name.
Skipped without torch (and onnxscript, which its exporter needs)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Tuple

import numpy as np
import numpy.typing as npt
import pytest

import tdsnn

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytest.importorskip("onnx")

from torch import nn  # noqa: E402

L = 5.0
EXAMPLE_SHAPE = (1, 1, 28, 28)


def lenet_like(seed: int = 0, middle: Any = None) -> Any:
    """conv-relu-maxpool-flatten-linear-relu-linear, weights from `seed`; `middle` (a module)
    replaces the first ReLU."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 5),
        middle if middle is not None else nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 12 * 12, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    ).eval()


@pytest.fixture(scope="module")
def model(images: npt.NDArray[np.float32]) -> Any:
    """The untrained module, its output bias centred on the digits' mean logits: with G's
    offsets (G >= 1) random weights otherwise put every digit in one class, and the classes
    compared would say little."""
    module = lenet_like()
    with torch.no_grad():
        module[-1].bias -= torch.from_numpy(reference(module, images).mean(axis=0)).float()
    return module


@pytest.fixture(scope="module")
def net(model: Any) -> tdsnn.Network:
    return tdsnn.from_torch(model, torch.zeros(EXAMPLE_SHAPE), leak=L)


@pytest.fixture(scope="module")
def images(
    digits: Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]],
) -> npt.NDArray[np.float32]:
    return digits[0][:40]


@pytest.fixture(scope="module")
def result(net: tdsnn.Network, images: npt.NDArray[np.float32]) -> tdsnn.RunResult:
    return net.run(images)


def g(x: Any) -> Any:
    """G of a float64 tensor, by the engine's own G (bit for bit)."""
    return torch.from_numpy(np.asarray(tdsnn.g(x.numpy(), L), dtype=np.float64))


def reference(module: Any, images: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """The module's forward pass in float64 with G in front of every synapse-based layer
    (conv, linear), the pixels included: the DNN(G) the SNN computes. G(relu(x)) = G(x) and
    G commutes with max pooling, so this is the same as G after every activation."""
    m = copy.deepcopy(module).double().eval()
    x = torch.from_numpy(images.astype(np.float64))
    with torch.no_grad():
        for layer in m:
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                x = g(x)
            x = layer(x)
    out: npt.NDArray[np.float64] = x.numpy()
    return out


def test_the_network_has_the_module_s_layers(net: tdsnn.Network) -> None:
    assert net.layers == [
        ("conv2d", (4, 24, 24)),
        ("max_pool", (4, 12, 12)),
        ("flatten", (576, 1, 1)),
        ("dense", (32, 1, 1)),
        ("output", (10, 1, 1)),
    ]
    assert net.input_shape == (1, 28, 28)
    assert net.classes == 10
    assert net.leak == L
    assert net.til == "dynamic"
    assert net.has_reference
    assert net.name == "Sequential"  # the module's class name by default


def test_the_run_passes_its_audit(result: tdsnn.RunResult, images: npt.NDArray[Any]) -> None:
    assert len(result) == len(images)
    audit = result.audit
    assert audit is not None and result.passed, audit
    assert audit["mismatches"] == 0 and audit["audit_failures"] == 0
    # Every neuron of every layer, the output's included (their logits are checked).
    assert audit["neurons"] == len(images) * (4 * 24 * 24 + 4 * 12 * 12 + 576 + 32 + 10)
    assert audit["exact"] + audit["ties"] == audit["neurons"]
    # The SNN classifies as its reference, and every hidden layer spikes.
    np.testing.assert_array_equal(result.classes, result.arrays["classes_dnn"])
    for k in range(4):
        assert result.spikes(k).shape[0] == len(images)


def test_the_reference_is_the_module_with_g_in_float64(
    model: Any, result: tdsnn.RunResult, images: npt.NDArray[np.float32]
) -> None:
    want = reference(model, images)
    got = result.arrays["logits_dnn"]
    assert got.dtype == np.float64 and got.shape == want.shape
    scale = np.abs(want).max()
    assert scale > 0.1  # a real comparison, not of zeros
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)
    # The SNN's rescaled logits equal the reference's (up to the leak's rounding).
    np.testing.assert_allclose(result.logits, want, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_array_equal(result.classes, want.argmax(axis=1))
    assert len(set(result.classes.tolist())) >= 3  # varied classes, not one
    # The first conv's pre-activations too: conv(G(pixels)).
    with torch.no_grad():
        conv = copy.deepcopy(model[0]).double()
        a0 = conv(g(torch.from_numpy(images.astype(np.float64)))).numpy()
    np.testing.assert_allclose(
        result.arrays["layer0_pre_activation"], a0, rtol=1e-9, atol=1e-12
    )


def test_the_onnx_file_route_gives_the_same_arrays(
    model: Any, result: tdsnn.RunResult, images: npt.NDArray[Any], tmp_path: Path
) -> None:
    path = tmp_path / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(EXAMPLE_SHAPE),), str(path), dynamo=True)
    from_file = tdsnn.load(path, leak=L)
    assert from_file.layers == tdsnn.from_torch(model, torch.zeros(EXAMPLE_SHAPE), L).layers
    other = from_file.run(images)
    assert other.passed
    assert sorted(other.arrays) == sorted(result.arrays)
    for name, array in result.arrays.items():
        mine = other.arrays[name]
        assert mine.dtype == array.dtype and mine.shape == array.shape, name
        assert mine.tobytes() == array.tobytes(), name


def test_name_and_til_are_passed_on(model: Any) -> None:
    net = tdsnn.from_torch(model, torch.zeros(EXAMPLE_SHAPE), leak=L, til=40, name="mine")
    assert net.name == "mine"
    assert net.til == 40


@pytest.mark.parametrize(
    "middle, op",
    [(nn.Sigmoid(), "Sigmoid"), (nn.Softmax(dim=1), "Softmax")],
    ids=["sigmoid", "softmax"],
)
def test_an_unsupported_layer_is_refused_by_name(middle: Any, op: str) -> None:
    module = lenet_like(middle=middle)
    with torch.no_grad():
        program = torch.onnx.export(module, (torch.zeros(EXAMPLE_SHAPE),), dynamo=True)
    names = [n.name for n in program.model_proto.graph.node if n.op_type == op]
    assert len(names) == 1, names
    with pytest.raises(tdsnn.FormatError) as caught:
        tdsnn.from_torch(module, torch.zeros(EXAMPLE_SHAPE), leak=L)
    message = str(caught.value)
    assert names[0] in message and op in message, message
    assert message.startswith("Sequential"), message  # the module, by its class name
