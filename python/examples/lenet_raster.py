# %% [markdown]
# # Every spike of a LeNet, drawn
#
# The shipped LeNet-5 (trained with `G` at `L = 5`, `fixtures/lenet`) converted into a
# temporal-coding spiking network and run on 100 of the shipped MNIST test digits: the
# accuracy, the audit of every spike against equation (10), and a spike raster of one digit,
# one band per layer of the engine graph, with each layer's release marked.
#
#     python python/examples/lenet_raster.py [out.png] [--digit I] [--count N]
#
# Needs `pip install ./python` and matplotlib. Trains nothing; runs in about a second.

# %%
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import tdsnn

parser = argparse.ArgumentParser(
    description="Run the shipped LeNet on MNIST digits and draw a spike raster of one."
)
parser.add_argument("output", nargs="?", default="lenet_raster.png", help="the PNG to write")
parser.add_argument("--digit", type=int, default=0, help="which of the digits to draw")
parser.add_argument("--count", type=int, default=100, help="how many digits to run")
if "__file__" in globals():  # run as a script: the repository is two levels up
    REPO = Path(__file__).resolve().parents[2]
    args = parser.parse_args()
else:  # a notebook (jupytext) opened in python/examples: defaults
    REPO = Path.cwd().resolve().parents[1]
    args = parser.parse_args([])
if not 0 <= args.digit < args.count:
    parser.error(f"--digit {args.digit}: give one of the digits run, 0 to {args.count - 1}")

# %% [markdown]
# ## Load the network and the digits
#
# `tdsnn.load` reads the project's model file and converts it with the leak constant it was
# trained for (an ONNX file needs `leak=`). `net.layers` is the engine graph: `(kind, (C, H,
# W))` per layer, the `k` of `result.spikes(k)`. The last layer is the output: its neurons
# do not spike, their potentials are the logits.

# %%
net = tdsnn.load(REPO / "fixtures" / "lenet" / "lenet5-g-L5.safetensors")
images, labels = tdsnn.load_idx(REPO / "fixtures" / "mnist")
print(net)
for k, (kind, shape) in enumerate(net.layers):
    print(f"  layer {k}: {kind:9} {'x'.join(map(str, shape))}")

# %% [markdown]
# ## Run, and check
#
# `run` simulates every digit event by event and, alongside, the f64 reference DNN(G) the
# network was converted from; every spike time is checked against `T(A)` of that reference
# (the audit). `passed` is True when no spike is off outside floating-point ties and every
# class agrees with the reference.

# %%
n = args.count
result = net.run(images[:n], labels=labels[:n])
correct = int((result.classes == labels[:n]).sum())
print(f"SNN accuracy: {correct} of {n} digits ({correct / n:.2%})")
same = int((result.classes == result.arrays["classes_dnn"]).sum())
print(f"SNN class = DNN(G) class: {same} of {n}")
print(f"audit: {result.audit}")
print(f"passed: {result.passed}")

# %% [markdown]
# ## The raster of one digit
#
# Time runs in whole steps. The input pixels fire first, at `T(p)` after time 0; each
# synapse-based layer (conv, dense) listens while its inputs arrive (its inhibitory period,
# shaded, from its frame origin to its release `R_k`), then its neurons fire at `R_k + T(A)`:
# larger values later, and every neuron with `A <= 0` at once, at the release. A max pool
# fires when the last spike of its window arrives, so its spikes stay in the frame of the
# conv before it; flatten passes spikes on. The output layer's release ends the run.

# %%
import matplotlib  # noqa: E402

if not os.environ.get("MPLBACKEND") and not (
    sys.platform in ("win32", "darwin")
    or os.environ.get("DISPLAY")
    or os.environ.get("WAYLAND_DISPLAY")
    or "ipykernel" in sys.modules
):
    matplotlib.use("Agg")  # no display: draw into the file only
import matplotlib.pyplot as plt  # noqa: E402

i = args.digit
hidden = list(range(len(net.layers) - 1))  # every layer but the output
bands = [-1] + hidden  # the input first
top = len(bands)


def name(k: int) -> str:
    """A band's label: the layer's index, kind and shape."""
    if k == -1:
        kind, shape = "input", net.input_shape
    else:
        kind, shape = net.layers[k]
    return f"{'' if k == -1 else f'{k} '}{kind}\n{'x'.join(map(str, shape))}"


def origin_of_spikes(k: int) -> np.ndarray:
    """What layer k's spike times count from: its release if it has one (conv, dense), else
    its frame origin (max pool, flatten; the input's is 0)."""
    if k == -1:
        return np.zeros(len(result), dtype=np.uint32)
    if f"layer{k}_release" in result.arrays:
        return result.releases(k)
    return result.frame_origins(k)


fig, (ax, hist) = plt.subplots(
    1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [2.4, 1]}, layout="constrained"
)
output = len(net.layers) - 1
end = int(result.releases(output)[i])
for row, k in enumerate(bands):
    base = top - 1 - row  # the input at the top
    times = result.spikes(k)[i].reshape(-1)
    y = base + 0.05 + 0.9 * np.arange(times.size) / times.size
    if k >= 0 and f"layer{k}_release" in result.arrays:
        start, release = int(result.frame_origins(k)[i]), int(result.releases(k)[i])
        ax.axvspan(start, release, ymin=base / top, ymax=(base + 1) / top, color="0.92", lw=0)
        ax.plot([release, release], [base, base + 1], color="tab:red", lw=1.5, zorder=2)
        ax.plot(release, base + 0.98, "v", color="tab:red", ms=7, zorder=4)
    elif k >= 0:
        start = int(result.frame_origins(k)[i])
        ax.plot(start, base + 0.98, "v", mfc="white", mec="tab:red", ms=7, zorder=4)
    # The spikes over the release line: at the release itself fire all neurons with A <= 0.
    ax.scatter(times, y, s=2, marker="s", color="black", alpha=0.25, lw=0, zorder=3,
               rasterized=True)
ax.axvline(end, color="tab:blue", lw=1.5)
ax.set_yticks([top - 1 - row + 0.5 for row in range(top)], [name(k) for k in bands])
ax.set_ylim(0, top)
ax.set_xlim(-0.5, end + 1)
ax.set_xlabel("time step")
ax.set_title(
    f"digit {i} (label {labels[i]}, SNN class {result.classes[i]}): "
    f"{sum(result.spikes(k)[i].size for k in bands):,} neurons, one spike each"
)
ax.plot([], [], "v-", color="tab:red", lw=1.5, label="release $R_k$ (inhibition shaded)")
ax.plot([], [], "v", mfc="white", mec="tab:red", label="frame origin of a pool, flatten")
ax.plot([], [], color="tab:blue", lw=1.5, label="output release: class read")
ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
ax.grid(axis="x", color="0.85", lw=0.5)
ax.set_axisbelow(True)

# %% [markdown]
# ## When neurons fire, over all the digits
#
# Each spike time counted from its layer's release (the input's from 0), over the `n`
# digits: the distribution of `T(A)` per layer. Step 0 is every neuron whose value is 0
# (`A <= 0`, and the black background pixels of the input); the largest values fire last.

# %%
for k in [-1] + [k for k in hidden if f"layer{k}_release" in result.arrays]:
    rel = result.spikes(k).reshape(n, -1).astype(np.int64) - origin_of_spikes(k)[:, None]
    counts = np.bincount(rel.reshape(-1))
    hist.plot(
        np.arange(counts.size), counts / rel.size, marker="o", ms=3,
        label=name(k).replace("\n", " "),
    )
hist.set_yscale("log")
hist.set_xlabel("steps after the release (input: after 0)")
hist.set_ylabel(f"fraction of the layer's spikes, {n} digits")
hist.set_title("spike times T(A)")
hist.legend(fontsize=8)
hist.grid(color="0.9", lw=0.5)

fig.savefig(args.output, dpi=110)
print(f"wrote {args.output}")
if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "pgf"):
    plt.show()
