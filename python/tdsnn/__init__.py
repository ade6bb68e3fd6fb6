"""tdsnn: convert deep networks into temporal-coding spiking networks (TDSNN, Zhang et al.,
AAAI 2019) and simulate them event by event, exactly.

Load a trained model (the project's safetensors model files, ONNX files as
``torch.onnx.export`` writes them, engine graph files), or build one from numpy weights;
run it on numpy images; get every spike time, release, logit and class back as numpy
arrays, the same arrays ``tdsnn run --dump`` writes, and the report ``tdsnn run --json``
writes. Long calls release the GIL, and ``threads`` never changes a result.

>>> import numpy as np, tdsnn
>>> net = (tdsnn.Builder((1, 1, 2))
...        .dense(np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([0.1, 0.0])).relu()
...        .dense(np.array([[1.0, 0.0], [0.0, 1.0]]))
...        .build(leak=5.0))
>>> result = net.run(np.array([[[[0.9, 0.2]]]], dtype=np.float32))
>>> result.passed, int(result.classes[0])
(True, 0)
>>> int(tdsnn.spike_time(1.0, 5.0))  # ceil(5 ln 2)
4
"""

from __future__ import annotations

from . import _native
from ._native import *  # noqa: F403 - every name the native module exports
from ._torch import from_torch

__all__ = ["from_torch"]
__all__ += _native.__all__
