"""Benchmark random-access reads of region features: vlkit's store vs one .npz per image vs one HDF5 file.

Writes N images x K regions x D features three ways: the vlkit store (fp16, memory-mapped), MCAN's
layout (one uncompressed .npz per image, float32 (D, K) as MCAN stores it), and one HDF5 file
(float32 (N, K, D), opened lazily per worker as pytorch-vqa does). Then reads random images through
a DataLoader (batch 32) with 0, 2 and 8 workers after a warm-up pass (warm page cache), and reports
items/s (median of repeats), time to the first batch, and the peak resident memory (VmHWM) of the
reading process and of its largest worker (each configuration runs in a fresh process). Pages of a
memory-mapped file count in RSS once touched but are shared page cache, not private memory.

Usage: python benchmarks/features.py [--images 3000] [--regions 36] [--dim 2048] [--reads 3000] [--repeats 3]
Needs h5py for the HDF5 column (pip install h5py); without it that column is skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from vlkit.features.store import FeatureStore, StoreWriter


class StoreReads(Dataset):
    def __init__(self, directory: Path, ids: np.ndarray):
        self.store, self.ids = FeatureStore(directory), ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.store.get([int(self.ids[index])]).features[0])


class StoreBatchReads(StoreReads):
    """The way vlkit's data modules read: one `get` per batch of ids (sorted rows, one copy)."""

    def __getitem__(self, positions: list[int]) -> torch.Tensor:
        return torch.from_numpy(self.store.get(self.ids[positions]).features)


class NpzReads(Dataset):
    def __init__(self, directory: Path, ids: np.ndarray):
        self.directory, self.ids = directory, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        with np.load(self.directory / f"COCO_train2014_{int(self.ids[index]):012d}.jpg.npz") as data:
            return torch.from_numpy(data["x"].T.copy())


class Hdf5Reads(Dataset):
    def __init__(self, path: Path, ids: np.ndarray):
        self.path, self.ids, self.file = path, ids, None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> torch.Tensor:
        import h5py

        if self.file is None:  # opened in the worker, not pickled
            self.file = h5py.File(self.path, "r")
        return torch.from_numpy(self.file["features"][int(self.ids[index])])


def write_all(root: Path, images: int, regions: int, dim: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    writer = StoreWriter(root / "store", range(images), regions, dim, "regions", {"source": "benchmark",
                                                                                    "model": "random"})
    (root / "npz").mkdir()
    h5 = None
    try:
        import h5py

        h5 = h5py.File(root / "features.h5", "w")
        dataset = h5.create_dataset("features", shape=(images, regions, dim), dtype="float32")
    except ImportError:
        dataset = None
    for image_id in range(images):
        features = rng.standard_normal((regions, dim), dtype=np.float32)
        boxes = np.zeros((1, regions, 4), np.float32)
        writer.write([image_id], features[None], [regions], boxes, np.array([[480, 640]]))
        np.savez(root / "npz" / f"COCO_train2014_{image_id:012d}.jpg.npz", x=features.T, bbox=boxes[0],
                 image_h=480, image_w=640, num_bbox=regions)
        if dataset is not None:
            dataset[image_id] = features
    writer.finish()
    if h5 is not None:
        h5.close()
    paths = {"store": root / "store", "store-batched": root / "store", "npz": root / "npz"}
    if dataset is not None:
        paths["hdf5"] = root / "features.h5"
    return paths


def peak_rss_mib(pid: int | str = "self") -> float:
    """VmHWM of a process (its own peak resident set; unlike ru_maxrss it does not survive exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(dataset: Dataset, workers: int, repeats: int) -> tuple[float, float, float]:
    """(median items/s, seconds to the first batch of the last repeat, largest worker peak RSS MiB)."""
    rates, first, worker_peak = [], 0.0, 0.0
    for _ in range(repeats + 1):  # the first pass warms the page cache
        persistent = workers > 0
        if isinstance(dataset, StoreBatchReads):
            batches = BatchSampler(RandomSampler(dataset), batch_size=32, drop_last=False)
            loader = DataLoader(dataset, sampler=batches, batch_size=None, num_workers=workers,
                                persistent_workers=persistent)
        else:
            loader = DataLoader(dataset, batch_size=32, num_workers=workers, shuffle=True,
                                persistent_workers=persistent)
        start = time.perf_counter()
        count = 0
        for position, batch in enumerate(loader):
            if position == 0:
                first = time.perf_counter() - start
            count += len(batch)
        rates.append(count / (time.perf_counter() - start))
        if persistent:  # workers are still alive: read their peaks (a private attribute; benchmark only)
            worker_peak = max([worker_peak] + [peak_rss_mib(w.pid) for w in loader._iterator._workers])
    return statistics.median(rates[1:]), first, worker_peak


KINDS = {"store": StoreReads, "store-batched": StoreBatchReads, "npz": NpzReads, "hdf5": Hdf5Reads}
NAMES = {"store": "vlkit store, item by item", "store-batched": "vlkit store, one read per batch",
         "npz": "npz per image (MCAN)", "hdf5": "HDF5 file"}


def read_in_this_process(kind: str, path: Path, ids_file: Path, workers: int, repeats: int) -> None:
    """Child mode: measure one configuration and print one JSON line."""
    rate, first, worker_peak = measure(KINDS[kind](path, np.load(ids_file)), workers, repeats)
    print(json.dumps({"rate": rate, "first": first, "rss_main": peak_rss_mib(), "rss_worker": worker_peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--regions", type=int, default=36)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 8])
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "IDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, ids_file = args.child
        read_in_this_process(kind, Path(path), Path(ids_file), args.workers[0], args.repeats)
        return
    with tempfile.TemporaryDirectory() as work:
        paths = write_all(Path(work), args.images, args.regions, args.dim)
        ids_file = Path(work) / "ids.npy"
        np.save(ids_file, np.random.default_rng(1).integers(0, args.images, size=args.reads))
        print(f"{args.images} images x {args.regions} regions x {args.dim}; {args.reads} random reads, batch 32; "
              f"median of {args.repeats} warm passes\n")
        print("| layout | workers | items/s | first batch s | peak RSS MiB main / worker |")
        print("| --- | ---: | ---: | ---: | ---: |")
        rates = {}
        for kind, path in paths.items():
            for workers in args.workers:
                output = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(ids_file),
                                         "--workers", str(workers), "--repeats", str(args.repeats)],
                                        capture_output=True, text=True, check=True).stdout
                row = json.loads(output.strip().splitlines()[-1])
                rates[(kind, workers)] = row["rate"]
                worker_rss = f"{row['rss_worker']:.0f}" if workers else "-"
                print(f"| {NAMES[kind]} | {workers} | {row['rate']:,.0f} | {row['first']:.2f} | "
                      f"{row['rss_main']:.0f} / {worker_rss} |", flush=True)
        print()
        for workers in args.workers:
            print(f"store / npz with {workers} workers: item by item **{rates[('store', workers)] / rates[('npz', workers)]:.1f}x**, "
                  f"one read per batch **{rates[('store-batched', workers)] / rates[('npz', workers)]:.1f}x**")


if __name__ == "__main__":
    main()
