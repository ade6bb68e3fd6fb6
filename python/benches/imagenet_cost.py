"""What an ImageNet validation run costs: AlexNet, VGG-16 and ResNet-18 as torchvision
shapes them (random He-initialised weights: the cost of a spiking run depends on the
shapes and the spikes, not on what the weights learned), one 3x224x224 image, one core:

- the engine alone (`Network.bench`, as `tdsnn bench` times it), and
- the whole evaluation `tdsnn run` makes (`Network.run`: the engine, the f64 reference
  DNN(G) and the audit of every neuron against equation (10)),

then the wall time of the 50,000 validation images on 1, 16 and 256 cores, shards spread
evenly (`tdsnn run --shard I/N`), the merge's seconds left out.

    target/python-venv/bin/python python/benches/imagenet_cost.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import numpy.typing as npt

import tdsnn

IMAGES = 50_000
CORES = (1, 16, 256)
rng = np.random.default_rng(2019)


def he(shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """He-initialised weights (fan-in) of `shape`."""
    fan_in = int(np.prod(shape[1:]))
    w: npt.NDArray[np.float32] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return w


def bias(n: int) -> npt.NDArray[np.float32]:
    return (rng.standard_normal(n) * 0.01).astype(np.float32)


def conv(b: tdsnn.Builder, c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0) -> int:
    """Adds a conv with its ReLU; the channels it leaves."""
    b.conv2d(he((c_out, c_in, k, k)), bias(c_out), stride=stride, padding=pad).relu()
    return c_out


def classifier(b: tdsnn.Builder, inputs: int, hidden: List[int]) -> None:
    b.flatten()
    for n in hidden:
        b.dense(he((n, inputs)), bias(n)).relu()
        inputs = n
    b.dense(he((1000, inputs)), bias(1000))


def alexnet() -> tdsnn.Builder:
    b = tdsnn.Builder((3, 224, 224))
    c = conv(b, 3, 64, 11, 4, 2)
    b.max_pool(3, 2)
    c = conv(b, c, 192, 5, 1, 2)
    b.max_pool(3, 2)
    for out in (384, 256, 256):
        c = conv(b, c, out, 3, 1, 1)
    b.max_pool(3, 2)
    classifier(b, 256 * 6 * 6, [4096, 4096])
    return b


def vgg16() -> tdsnn.Builder:
    b = tdsnn.Builder((3, 224, 224))
    c = 3
    for widths in ([64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3):
        for w in widths:
            c = conv(b, c, w, 3, 1, 1)
        b.max_pool(2)
    classifier(b, 512 * 7 * 7, [4096, 4096])
    return b


def resnet18() -> tdsnn.Builder:
    b = tdsnn.Builder((3, 224, 224))
    c = conv(b, 3, 64, 7, 2, 3)
    b.max_pool(3, 2, 1)
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            source = len(b) - 1  # the block's input: a ReLU's or the max-pool's output
            conv(b, c, width, 3, s, 1)
            b.conv2d(he((width, width, 3, 3)), bias(width), padding=1)
            if s != 1 or c != width:
                b.shortcut(source, he((width, c, 1, 1)), bias(width), stride=s)
            else:
                b.shortcut(source)
            b.relu()
            c = width
    b.avg_pool(7)
    classifier(b, 512, [])
    return b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    image = rng.random((1, 3, 224, 224), dtype=np.float32)
    nets: Dict[str, Callable[[], tdsnn.Builder]] = {
        "AlexNet": alexnet,
        "VGG-16": vgg16,
        "ResNet-18": resnet18,
    }
    results = {}
    for name, make in nets.items():
        net = make().build(leak=5.0)
        engine = float(net.bench(image, repeats=3)["seconds_per_image"])
        start = time.perf_counter()
        result = net.run(image, threads=1)
        evaluated = time.perf_counter() - start
        assert result.passed, f"{name}: the audit failed"
        results[name] = {"engine_s": engine, "evaluation_s": evaluated}
        print(f"{name}: engine {engine:.3f} s, evaluation {evaluated:.2f} s per image", flush=True)
    print(f"\nImageNet validation ({IMAGES:,} images), wall time:")
    print("| network | per image: engine / evaluation | " + " | ".join(f"{c} core{'s' if c > 1 else ''}" for c in CORES) + " |")
    print("|---|---|" + "---|" * len(CORES))
    for name, r in results.items():
        cells = []
        for cores in CORES:
            hours = [IMAGES * r[k] / cores / 3600 for k in ("engine_s", "evaluation_s")]
            cells.append(" / ".join(f"{h:.2f} h" if h >= 1 else f"{h * 60:.1f} min" for h in hours))
        print(f"| {name} | {r['engine_s']:.3f} s / {r['evaluation_s']:.2f} s | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
