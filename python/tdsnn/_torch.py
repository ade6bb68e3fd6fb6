"""The PyTorch bridge: a ``torch.nn.Module`` exported to ONNX in memory and loaded.

torch is an optional dependency (``pip install ./python[torch]``); this module imports it
only when ``from_torch`` is called.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Union

from ._native import Network, load_onnx_bytes


def from_torch(
    module: Any,
    example_input: Any,
    leak: float,
    til: Union[str, int] = "dynamic",
    name: Optional[str] = None,
) -> Network:
    """Exports ``module`` with ``torch.onnx.export`` (its default exporter) in memory, for
    inputs shaped like ``example_input`` (a tensor or array ``(N, C, H, W)``), and converts
    the result with leak constant ``leak``, as ``load`` converts an ONNX file. The module is
    exported in eval mode and left in the mode it was in.

    The module must be one tdsnn converts: conv, linear, max/avg-pool, ReLU (``G`` when
    trained for it), flatten, BatchNorm folded by the exporter, residual blocks; trained
    with ``G`` for the spiking network to equal it. ``name`` names it in errors and reports
    (default: the module's class name).

    Raises ``ImportError`` if torch is not installed, and what ``load`` raises if the
    exported graph is not one tdsnn converts.
    """
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "from_torch needs PyTorch: pip install torch (or export to ONNX yourself "
            "and call tdsnn.load on the file)"
        ) from e
    example = torch.as_tensor(example_input)
    training = module.training
    # The exporter warns, once per process, of every torchvision operator it cannot
    # register when torchvision is absent: nothing to do with the module exported.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    module.eval()
    try:
        with torch.no_grad():
            program = torch.onnx.export(module, (example,), dynamo=True, verbose=False)
    finally:
        module.train(training)
        registration.setLevel(level)
    if program is None:  # pragma: no cover - torch < 2.5 returns nothing
        raise RuntimeError("torch.onnx.export returned no program: use torch >= 2.5")
    data = program.model_proto.SerializeToString()
    return load_onnx_bytes(data, name or type(module).__name__, leak, til)
