"""An independent numpy reference of the spike-timing laws of docs/semantics.md.

Given a network as the list of layers fed to `tdsnn.Builder`, images and a leak constant
`L`, it computes in float64 (from the float32 weights) what every neuron of the converted
network must do: the pre-activations `A` of every synapse-based layer (dense, conv, average
pool), each seeing `G` of its input, zero padding applied after `G`; and from them every
spike time, frame origin, release and join delay. The engine is not consulted: only the
two coding functions `T` (`tdsnn.spike_time`) and `G` (`tdsnn.g`) come from the package,
because they are bit-identical to the engine's and the laws are about the network algebra
built on them, not about `log1p` rounding.

A `Flaw` breaks one law on purpose, so the property test can show that it notices.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

import tdsnn

Array = npt.NDArray[np.float64]
Times = npt.NDArray[np.int64]
Pair = Tuple[int, int]
Source = Union[int, str]
Shape = Tuple[int, int, int]

# ---------------------------------------------------------------------------------------
# The network description: one dataclass per `tdsnn.Builder` method, in PyTorch layouts.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conv2d:
    """`Builder.conv2d`: weights `(out, in, kh, kw)` float32, bias `(out,)` or None."""

    weights: npt.NDArray[np.float32]
    bias: Optional[npt.NDArray[np.float32]] = None
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)


@dataclass(frozen=True)
class Dense:
    """`Builder.dense`: weights `(out, in)` on the channel-major flattened input."""

    weights: npt.NDArray[np.float32]
    bias: Optional[npt.NDArray[np.float32]] = None


@dataclass(frozen=True)
class Relu:
    """`Builder.relu`."""


@dataclass(frozen=True)
class MaxPool:
    """`Builder.max_pool`: padded positions are ignored."""

    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)


@dataclass(frozen=True)
class AvgPool:
    """`Builder.avg_pool`: always divides by `kh * kw`, padded positions count as 0."""

    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)


@dataclass(frozen=True)
class Flatten:
    """`Builder.flatten` (channel-major)."""


@dataclass(frozen=True)
class Shortcut:
    """`Builder.shortcut`: adds builder layer `source`'s output (or the input's), or a
    projection conv of it, to the pre-activation of the conv or dense layer before."""

    source: Source
    weights: Optional[npt.NDArray[np.float32]] = None
    bias: Optional[npt.NDArray[np.float32]] = None
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)


@dataclass(frozen=True)
class Concat:
    """`Builder.concat`: appends builder layer `source`'s channels to the current tensor's."""

    source: Source


Layer = Union[Conv2d, Dense, Relu, MaxPool, AvgPool, Flatten, Shortcut, Concat]


@dataclass(frozen=True)
class Network:
    """An input shape `(C, H, W)` and the layers, exactly as given to `tdsnn.Builder`."""

    input_shape: Shape
    layers: Sequence[Layer]


# ---------------------------------------------------------------------------------------
# What the laws say the converted network does.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerLaw:
    """What one engine graph layer must do, for every image (first axis).

    `spikes` are absolute spike times, `(N, C, H, W)` (None for the output layer, which
    does not spike). `release`, `pre_activation` and `scale` (the sum of the absolute values
    of the terms of `A`, what its rounding error is relative to) are given for
    synapse-based layers only; `delays` (`o - o_g` per synapse group, the layer's own
    synapses first) for joins only; `inhibition` is the time from the frame origin to the
    last input spike (the bias spike included), what a fixed `T_il` must cover.
    """

    kind: str
    shape: Shape
    frame_origin: Times
    spikes: Optional[Times] = None
    release: Optional[Times] = None
    pre_activation: Optional[Array] = None
    scale: Optional[Array] = None
    delays: Optional[Times] = None
    inhibition: Optional[Times] = None

    @property
    def synaptic(self) -> bool:
        """Whether the layer sums weighted inputs (and so releases and has an `A`)."""
        return self.pre_activation is not None


@dataclass(frozen=True)
class Expectation:
    """Everything the laws predict for one network on a batch of images."""

    input_spikes: Times
    layers: List[LayerLaw]

    @property
    def logits(self) -> Array:
        """The output layer's `A`, `(N, K)`: what the rescaled SNN logits must equal."""
        out = self.layers[-1]
        assert out.pre_activation is not None
        return out.pre_activation.reshape(out.pre_activation.shape[0], -1)

    @property
    def logit_scale(self) -> Array:
        """The sum of absolute terms of each logit, `(N, K)`."""
        out = self.layers[-1]
        assert out.scale is not None
        return out.scale.reshape(out.scale.shape[0], -1)

    @property
    def required_til(self) -> int:
        """The shortest fixed `T_il` under which no spike of any layer is late."""
        return max(int(law.inhibition.max()) for law in self.layers if law.inhibition is not None)


class Flaw(enum.Enum):
    """A law deliberately broken, to show that the property test catches it."""

    NONE = "none"
    #: `T(x) = floor(L ln(x + 1))` instead of `ceil` (in `G` too).
    FLOOR_SPIKE_TIME = "floor instead of ceil in T"
    #: The first synapse-based layer sees its raw input instead of `G` of it.
    NO_G_AT_FIRST_LAYER = "G dropped at the first synapse-based layer"
    #: Zero padding applied before `G`: a padded position contributes `G(0) = 1`.
    PADDING_BEFORE_G = "padding before G"
    #: The release ignores the bias spike at `T(1)`.
    RELEASE_IGNORES_BIAS = "release ignores the bias spike"


# ---------------------------------------------------------------------------------------
# The coding laws T and G (the package's, or a flawed variant).
# ---------------------------------------------------------------------------------------


def spike_time(x: Array, leak: float, flaw: Flaw = Flaw.NONE) -> Times:
    """`T(x) = ceil(L ln(x + 1))` for `x > 0`, else 0: equation (10), as int64."""
    if flaw is Flaw.FLOOR_SPIKE_TIME:
        x = np.asarray(x, dtype=np.float64)
        floor = np.floor(leak * np.log1p(np.maximum(x, 0.0)))
        return np.where(x > 0, floor, 0).astype(np.int64)
    return np.asarray(tdsnn.spike_time(x, leak), dtype=np.int64)


def gain(x: Array, leak: float, flaw: Flaw = Flaw.NONE) -> Array:
    """`G(x) = exp(T(x) / L)`: equation (11), what a spike at `T(x)` is worth."""
    if flaw is Flaw.FLOOR_SPIKE_TIME:
        return np.exp(spike_time(x, leak, flaw) / leak)
    return np.asarray(tdsnn.g(x, leak), dtype=np.float64)


def tie_mask(a: Array, scale: Array, leak: float, window: float = 1e-9) -> npt.NDArray[np.bool_]:
    """Where `T(A)` may land on either step: `y = L ln(A + 1)` within `window * max(1, |y|)`
    of an integer; for `A <= 0`, of the only edge, at 0 (the distance measured as `-y`). A neuron with no non-zero term (`scale == 0`: a window of
    padding and no bias) has `A = 0` exactly, nothing to round, and is never a tie.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        y = leak * np.log1p(np.where(a > -1.0, a, 0.0))
    margin = np.where(a > 0, np.abs(y - np.round(y)), np.where(a > -1.0, -y, np.inf))
    return (scale > 0) & (margin <= window * np.maximum(1.0, np.abs(y)))


# ---------------------------------------------------------------------------------------
# Window geometry and the synapse algebra, in float64, images first.
# ---------------------------------------------------------------------------------------


def out_extent(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output extent of a sliding window: `(size + 2 padding - kernel) // stride + 1`."""
    return (size + 2 * padding - kernel) // stride + 1


def padded(x: np.ndarray, padding: Pair, value: float) -> np.ndarray:
    """`x` `(N, C, H, W)` padded on both sides of H and W with `value`."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def window_taps(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, pad_value: float
) -> List[Tuple[int, int, np.ndarray]]:
    """For each kernel offset `(ky, kx)`, the `(N, C, Ho, Wo)` view of the padded `x` that
    the windows read there."""
    (kh, kw), (sh, sw) = kernel, stride
    ho = out_extent(x.shape[2], kh, sh, padding[0])
    wo = out_extent(x.shape[3], kw, sw, padding[1])
    xp = padded(x, padding, pad_value)
    return [
        (ky, kx, xp[:, :, ky : ky + sh * (ho - 1) + 1 : sh, kx : kx + sw * (wo - 1) + 1 : sw])
        for ky in range(kh)
        for kx in range(kw)
    ]


def conv2d(
    g: Array, weights: np.ndarray, stride: Pair, padding: Pair, pad_value: float = 0.0
) -> Tuple[Array, Array]:
    """`sum_i W_ji g_i` of a conv over `g` `(N, C, H, W)` (padding `pad_value`, 0 by the
    laws), and the same sum of `|W_ji g_i|`."""
    w = weights.astype(np.float64)
    kernel = (w.shape[2], w.shape[3])
    total: Array = np.zeros(0)
    size: Array = np.zeros(0)
    for ky, kx, tap in window_taps(g, kernel, stride, padding, pad_value):
        term = np.einsum("nchw,oc->nohw", tap, w[:, :, ky, kx])
        mag = np.einsum("nchw,oc->nohw", np.abs(tap), np.abs(w[:, :, ky, kx]))
        total = term if total.size == 0 else total + term
        size = mag if size.size == 0 else size + mag
    return total, size


def dense(g: Array, weights: np.ndarray) -> Tuple[Array, Array]:
    """`sum_i W_ji g_i` over the channel-major flattened `g`, as `(N, out, 1, 1)`, and the
    same sum of `|W_ji g_i|`."""
    w = weights.astype(np.float64)
    flat = g.reshape(g.shape[0], -1)
    shape = (g.shape[0], w.shape[0], 1, 1)
    return (flat @ w.T).reshape(shape), (np.abs(flat) @ np.abs(w).T).reshape(shape)


def avg_pool(
    g: Array, kernel: Pair, stride: Pair, padding: Pair, pad_value: float = 0.0
) -> Tuple[Array, Array]:
    """The window sums of `g` divided by `kh * kw` (weight `1 / (kh kw)` per synapse), and
    the same of `|g|`."""
    taps = window_taps(g, kernel, stride, padding, pad_value)
    area = float(kernel[0] * kernel[1])
    total = sum(tap for _, _, tap in taps) / area
    size = sum(np.abs(tap) for _, _, tap in taps) / area
    return np.asarray(total), np.asarray(size)


def max_pool(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    """The largest value of each window, padded positions ignored (works for values and
    for integer spike times alike)."""
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    taps = window_taps(x, kernel, stride, padding, lowest)
    return np.asarray(np.maximum.reduce([tap for _, _, tap in taps]))


def shape_of(x: np.ndarray) -> Shape:
    """The `(C, H, W)` of a batch `(N, C, H, W)`."""
    return (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))


# ---------------------------------------------------------------------------------------
# The laws, layer by layer.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spiking:
    """A tensor the spiking network has neurons for: its DNN values `x` `(N, C, H, W)`,
    the absolute times of the spikes that carry them, and the frame origin `(N,)` those
    times are counted from (a neuron of value `x` fires at `frame + T(x)`)."""

    values: Array
    times: Times
    frame: Times


#: One synapse group: its source tensor, and what it makes of `G` of it (the sum and the
#: sum of absolute terms it adds to the layer's `A`).
Group = Tuple[Spiking, Callable[[Array], Tuple[Array, Array]]]


@dataclass
class Context:
    """What every layer's law needs: `L`, the `T_il` policy, the flaw, and whether the first
    synapse-based layer is still to come (for `Flaw.NO_G_AT_FIRST_LAYER`)."""

    leak: float
    til: Union[str, int]
    flaw: Flaw
    first_synaptic: bool = True

    def feed(self, x: Array) -> Array:
        """What a synapse-based layer sees of its input `x`: `G(x)`."""
        if self.first_synaptic and self.flaw is Flaw.NO_G_AT_FIRST_LAYER:
            return np.asarray(x, dtype=np.float64)
        return gain(x, self.leak, self.flaw)

    @property
    def pad_value(self) -> float:
        """What a padded position contributes: 0, or `G(0) = 1` under the flaw."""
        return 1.0 if self.flaw is Flaw.PADDING_BEFORE_G else 0.0


def synaptic_layer(
    kind: str, groups: List[Group], bias: Optional[Array], ctx: Context
) -> LayerLaw:
    """The law of one synapse-based layer (docs/semantics.md, "One synapse-based layer" and
    "Branches and joins"): `A = sum over groups sum_i W_ji G(x_i) + b`; its frame origin
    `o` is the latest of its groups' frames, each group's spikes delayed by `o - o_g`; it
    releases at its last delivered input spike (the bias spike at `o + T(1)` included), or
    at `o + T_il` for a fixed `T_il`; a hidden neuron fires at `release + T(A)`. The output
    layer (`kind` "output") does not fire: its `A` are the logits."""
    origin = np.max([source.frame for source, _ in groups], axis=0)
    delays = np.stack([origin - source.frame for source, _ in groups], axis=1)
    # The latest input spike, counted from the frame origin (the same before and after
    # its delay).
    latest = np.max([relative_latest(source) for source, _ in groups], axis=0)
    a, scale = np.zeros(0), np.zeros(0)
    for source, synapses in groups:
        term, size = synapses(ctx.feed(source.values))
        a, scale = (term, size) if a.size == 0 else (a + term, scale + size)
    ctx.first_synaptic = False
    if bias is not None:
        a = a + bias[None, :, None, None]
        scale = scale + np.abs(bias)[None, :, None, None]
        if ctx.flaw is not Flaw.RELEASE_IGNORES_BIAS:
            latest = np.maximum(latest, int(spike_time(np.array(1.0), ctx.leak, ctx.flaw)))
    release = origin + (latest if ctx.til == "dynamic" else int(ctx.til))
    fires = kind != "output"
    return LayerLaw(
        kind=kind,
        shape=shape_of(a),
        frame_origin=origin,
        spikes=release[:, None, None, None] + spike_time(a, ctx.leak, ctx.flaw) if fires else None,
        release=release,
        pre_activation=a,
        scale=scale,
        delays=delays if len(groups) > 1 else None,
        inhibition=latest,
    )


def relative_latest(source: Spiking) -> Times:
    """The latest spike time of `source` counted from its frame origin, per image."""
    n = source.frame.shape[0]
    return np.asarray((source.times.reshape(n, -1) - source.frame[:, None]).max(axis=1))


def carried(law: LayerLaw) -> Spiking:
    """The tensor a hidden synapse-based layer's neurons carry: `A` (a ReLU after it gives
    `max(A, 0)`, carried by the same spikes), timed from its release."""
    assert law.pre_activation is not None and law.spikes is not None and law.release is not None
    return Spiking(law.pre_activation, law.spikes, law.release)


def conv_synapses(
    weights: np.ndarray, stride: Pair, padding: Pair, ctx: Context
) -> Callable[[Array], Tuple[Array, Array]]:
    """A conv group's synapses."""
    return lambda g: conv2d(g, weights, stride, padding, ctx.pad_value)


def dense_synapses(weights: np.ndarray) -> Callable[[Array], Tuple[Array, Array]]:
    """A dense group's synapses."""
    return lambda g: dense(g, weights)


def identity_synapses(shape: Shape) -> Callable[[Array], Tuple[Array, Array]]:
    """An identity shortcut's synapses: weight 1, each value onto the same place (a dense
    layer's flat shape takes the channel-major flattened source)."""
    return lambda g: (g.reshape((g.shape[0],) + shape), np.abs(g).reshape((g.shape[0],) + shape))


def avg_synapses(layer: AvgPool, ctx: Context) -> Callable[[Array], Tuple[Array, Array]]:
    """An average pool's synapses: weight `1 / (kh kw)` onto each window."""
    return lambda g: avg_pool(g, layer.kernel, layer.stride, layer.padding, ctx.pad_value)


def split_weights(layer: Union[Conv2d, Dense], parts: List[Spiking]) -> List[np.ndarray]:
    """Each concatenated part's share of a conv's input channels or a dense layer's
    columns (channel-major: the parts' flattened values one after the other)."""
    shares = []
    start = 0
    for part in parts:
        c, h, w = shape_of(part.values)
        width = c if isinstance(layer, Conv2d) else c * h * w
        shares.append(layer.weights[:, start : start + width])
        start += width
    assert start == layer.weights.shape[1], "the parts cover the layer's inputs"
    return shares


def conv_or_dense_shape(layer: Union[Conv2d, Dense], input_shape: Shape) -> Shape:
    """The output shape of a conv or dense layer on an input of `input_shape`."""
    if isinstance(layer, Dense):
        return (int(layer.weights.shape[0]), 1, 1)
    out, _, kh, kw = layer.weights.shape
    _, h, w = input_shape
    return (
        int(out),
        out_extent(h, kh, layer.stride[0], layer.padding[0]),
        out_extent(w, kw, layer.stride[1], layer.padding[1]),
    )


def joined_layer(
    layer: Union[Conv2d, Dense],
    parts: List[Spiking],
    shortcuts: List[Shortcut],
    tensors: Dict[Source, Spiking],
    ctx: Context,
    output: bool,
) -> LayerLaw:
    """A conv or dense layer: one synapse group per concatenated part (its own synapses
    first), then one per shortcut after it (identity, or a projection conv whose bias
    adds to the layer's)."""
    own = [
        conv_synapses(share, layer.stride, layer.padding, ctx)
        if isinstance(layer, Conv2d)
        else dense_synapses(share)
        for share in split_weights(layer, parts)
    ]
    groups: List[Group] = list(zip(parts, own))
    bias = None if layer.bias is None else layer.bias.astype(np.float64)
    shape = conv_or_dense_shape(layer, shape_of(parts[0].values))
    for shortcut in shortcuts:
        source = tensors[shortcut.source]
        if shortcut.weights is None:
            groups.append((source, identity_synapses(shape)))
            continue
        synapses = conv_synapses(shortcut.weights, shortcut.stride, shortcut.padding, ctx)
        groups.append((source, synapses))
        if shortcut.bias is not None:
            projection = shortcut.bias.astype(np.float64)
            bias = projection if bias is None else bias + projection
    kind = "output" if output else "conv2d" if isinstance(layer, Conv2d) else "dense"
    return synaptic_layer(kind, groups, bias, ctx)


def max_pool_layer(layer: MaxPool, current: Spiking) -> Tuple[LayerLaw, Spiking]:
    """A max pool: each unit fires when the last input of its window fires (the spike of
    the largest value, as `T` is monotone), in its input's frame."""
    window = (layer.kernel, layer.stride, layer.padding)
    pooled = Spiking(
        max_pool(current.values, *window), max_pool(current.times, *window), current.frame
    )
    return LayerLaw("max_pool", shape_of(pooled.values), pooled.frame, pooled.times), pooled


def flatten_layer(current: Spiking) -> Tuple[LayerLaw, Spiking]:
    """A flatten passes its input's spikes on unchanged, channel-major."""
    flat = (current.values.shape[0], -1, 1, 1)
    out = Spiking(current.values.reshape(flat), current.times.reshape(flat), current.frame)
    return LayerLaw("flatten", shape_of(out.values), out.frame, out.times), out


def following_shortcuts(layers: Sequence[Layer], i: int) -> List[Shortcut]:
    """The shortcuts right after layer `i`, which join its pre-activation."""
    shortcuts = []
    for layer in layers[i + 1 :]:
        if not isinstance(layer, Shortcut):
            break
        shortcuts.append(layer)
    return shortcuts


def expect(
    network: Network,
    images: npt.ArrayLike,
    leak: float,
    til: Union[str, int] = "dynamic",
    flaw: Flaw = Flaw.NONE,
) -> Expectation:
    """What the converted `network` must do on `images` `(N, C, H, W)` with leak `leak` and
    `T_il` policy `til` (`"dynamic"` or a number of steps): one `LayerLaw` per engine graph
    layer, in the engine's order (ReLUs dropped, shortcuts and concats folded into the
    layer they join, the last synapse-based layer the output)."""
    ctx = Context(leak=leak, til=til, flaw=flaw)
    x = np.asarray(images, dtype=np.float32).astype(np.float64)
    current = Spiking(x, spike_time(x, leak, flaw), np.zeros(x.shape[0], np.int64))
    layers = list(network.layers)
    synaptic = [i for i, l in enumerate(layers) if isinstance(l, (Conv2d, Dense, AvgPool))]
    # The output of each builder layer (ReLUs included), that a shortcut or concat may name.
    tensors: Dict[Source, Spiking] = {"input": current}
    parts: List[Spiking] = []  # the parts of a pending concatenation
    laws: List[LayerLaw] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, Relu):
            current = Spiking(np.maximum(current.values, 0.0), current.times, current.frame)
        elif isinstance(layer, Concat):
            parts = (parts or [current]) + [tensors[layer.source]]
        elif isinstance(layer, (Conv2d, Dense)):
            shortcuts = following_shortcuts(layers, i)
            output = i == synaptic[-1]
            law = joined_layer(layer, parts or [current], shortcuts, tensors, ctx, output)
            laws.append(law)
            if output:
                break
            current, parts = carried(law), []
            i += len(shortcuts)
        elif isinstance(layer, AvgPool):
            pool: Group = (current, avg_synapses(layer, ctx))
            laws.append(synaptic_layer("avg_pool", [pool], None, ctx))
            current = carried(laws[-1])
        elif isinstance(layer, MaxPool):
            law, current = max_pool_layer(layer, current)
            laws.append(law)
        elif isinstance(layer, Flatten):
            law, current = flatten_layer(current)
            laws.append(law)
        else:
            raise TypeError(f"layer {i}: {layer!r} is not a layer the reference knows")
        tensors[i] = current
        i += 1
    return Expectation(input_spikes=tensors["input"].times, layers=laws)
