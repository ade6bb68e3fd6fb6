"""What the Python package costs over the engine, and what threads buy, measured in one
process on the shipped LeNet and digits, every timing interleaved with its baseline so that
the ratios hold on a noisy machine.

    target/python-venv/bin/python python/benches/speed.py [--images 1000] [--rounds 7]
        [--json docs/bench/python.json]

Rows (medians over the rounds):
- engine: `Network.bench`, the engine alone as `tdsnn bench` times it (one thread, each image
  run into the same record, no arrays kept);
- run, 1 thread: `Network.run(images, reference=False, threads=1)`, every array returned;
- run, 2 threads: the same with `threads=2`;
- 2 Python threads: two Python threads, each running half the images with `threads=1`;
- run with reference, 1 and 2 threads: `Network.run(images)` on a fifth of the images, the
  f64 reference and the audit included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import numpy.typing as npt

import tdsnn

REPO = Path(__file__).resolve().parents[2]


def timed(f: Callable[[], object]) -> float:
    """Seconds `f` takes."""
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def two_python_threads(net: tdsnn.Network, images: npt.NDArray[np.float32]) -> None:
    half = len(images) // 2
    workers = [
        threading.Thread(target=net.run, args=(part,), kwargs={"threads": 1, "reference": False})
        for part in (images[:half], images[half:])
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    net = tdsnn.load(REPO / "fixtures" / "lenet" / "lenet5-g-L5.safetensors")
    images = tdsnn.load_idx(REPO / "fixtures" / "mnist", limit=args.images)[0]
    n = len(images)
    few = images[: max(2, n // 5)]

    def engine() -> float:
        # bench times one untimed and one timed pass itself: its own timing is kept.
        return float(net.bench(images, repeats=1)["seconds_per_image"]) * n

    # Three groups, each timed interleaved within itself: the engine-alone runs are never
    # timed right after the reference runs, whose gigabyte of records the allocator hands
    # back to the system.
    groups: List[Dict[str, Callable[[], float]]] = [
        {
            "engine": engine,
            # Three runs in a row, as a loop over batches runs them: the allocator hands each
            # the pages the arrays of the one before gave back (it returns idle pages to the
            # system after a while, and a run after a pause pays for faulting them in).
            "run, 1 thread": lambda: statistics.median(
                timed(lambda: net.run(images, threads=1, reference=False)) for _ in range(3)
            ),
        },
        {
            "run, 1 thread (threads group)": lambda: timed(
                lambda: net.run(images, threads=1, reference=False)
            ),
            "run, 2 threads": lambda: timed(lambda: net.run(images, threads=2, reference=False)),
            "2 Python threads": lambda: timed(lambda: two_python_threads(net, images)),
        },
        {
            "run with reference, 1 thread": lambda: timed(lambda: net.run(few, threads=1)),
            "run with reference, 2 threads": lambda: timed(lambda: net.run(few, threads=2)),
        },
    ]
    median: Dict[str, float] = {}
    for group in groups:
        times: Dict[str, List[float]] = {name: [] for name in group}
        for f in group.values():  # warm-up: tables built, memory touched
            f()
        for _ in range(args.rounds):
            for name, f in group.items():
                times[name].append(f())
        median.update({name: statistics.median(t) for name, t in times.items()})
    per_image = {
        name: t / (len(few) if "reference" in name else n) for name, t in median.items()
    }
    ratios = {
        "run (1 thread) / engine": median["run, 1 thread"] / median["engine"],
        "speed-up, threads=2": median["run, 1 thread (threads group)"] / median["run, 2 threads"],
        "speed-up, 2 Python threads": median["run, 1 thread (threads group)"]
        / median["2 Python threads"],
        "speed-up with reference, threads=2": median["run with reference, 1 thread"]
        / median["run with reference, 2 threads"],
    }
    print(f"LeNet-5, {n} digits, {args.rounds} rounds, {os.cpu_count()} cores")
    for name, t in per_image.items():
        print(f"  {name:<32} {t * 1e6:9.1f} us/image")
    for name, r in ratios.items():
        print(f"  {name:<40} {r:6.3f}")
    if args.json:
        report = {
            "host": {"machine": platform.machine(), "cores": os.cpu_count()},
            "tdsnn": tdsnn.__version__,
            "images": n,
            "rounds": args.rounds,
            "us_per_image": {k: v * 1e6 for k, v in per_image.items()},
            "ratios": ratios,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {args.json}")


if __name__ == "__main__":
    main()
