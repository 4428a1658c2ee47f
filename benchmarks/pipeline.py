#!/usr/bin/env python
"""How fast real images reach training, and how much memory a memory-mapped data set costs.

    python benchmarks/pipeline.py --images 20000

Writes (once, then reuses) CelebA-sized JPEG faces under .cache/bench-jpegs/ in the CelebA
layout, then measures, in this process:
- first pass: ``load_images()`` decoding the JPEGs into a fresh memory-mapped uint8 cache;
- cached: ``load_images()`` again, which finds the cache valid and decodes nothing;
- dataset: one epoch of ``make_dataset()`` batches gathered from that memmap;
and the process's peak resident memory (VmHWM) and its peak anonymous (non-file) memory, the
part a memmap keeps out of RAM. Then, in child processes, one epoch of ``make_dataset()`` over a
cache the size of full CelebA (202,599 images; a sparse file, so nothing is written to disk), with
the data module's page release on and off. The last line is JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CELEBA_WIDTH, CELEBA_HEIGHT = 178, 218  # the aligned CelebA image size
FULL_CELEBA = 202_599


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler:
    """Samples RssAnon in a thread: the kernel keeps a peak for total RSS only (VmHWM)."""

    def __init__(self, every: float = 0.02):
        self.every = every
        self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, status_kib("RssAnon"))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_anon = max(self.peak_anon, status_kib("RssAnon"))


def write_jpegs(folder: Path, count: int, seed: int = 0) -> float:
    """Make sure folder holds faces 000001.jpg .. count; return the seconds spent writing."""
    import numpy as np
    from PIL import Image

    from wgan.demo_faces import draw_faces

    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(1, count + 1) if not (folder / f"{i:06d}.jpg").exists()]
    if not missing:
        return 0.0
    start = time.perf_counter()
    left = (CELEBA_HEIGHT - CELEBA_WIDTH) // 2
    chunk = 256

    def write(block: list[int]) -> None:
        faces = draw_faces(len(block), CELEBA_HEIGHT, 3, seed=seed + block[0])
        for index, face in zip(block, faces, strict=True):
            crop = np.ascontiguousarray(face[:, left : left + CELEBA_WIDTH])
            tmp = folder / f".{index:06d}.jpg.tmp"
            Image.fromarray(crop).save(tmp, format="JPEG", quality=90)
            os.replace(tmp, folder / f"{index:06d}.jpg")

    blocks = [missing[i : i + chunk] for i in range(0, len(missing), chunk)]
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(write, blocks))
    return time.perf_counter() - start


def measure(root: Path, count: int, image_size: int, batch: int, n_critic: int) -> dict:
    from wgan.data import load_images, make_dataset, steps_per_epoch

    work = Path(tempfile.mkdtemp(prefix="wgan-bench-cache-"))
    cache = work / "images.u8cache"
    try:
        with PeakSampler() as sampler:
            start = time.perf_counter()
            first = load_images(root, count, image_size, seed=0, cache_path=cache)
            first_s = time.perf_counter() - start
            del first
            start = time.perf_counter()
            cached = load_images(root, count, image_size, seed=0, cache_path=cache)
            cached_s = time.perf_counter() - start
            images = cached.images
            steps = steps_per_epoch(len(images), batch, n_critic)
            dataset = make_dataset(images, batch, n_critic, seed=0)
            start = time.perf_counter()
            delivered = sum(int(element.shape[0] * element.shape[1]) for element in dataset)
            dataset_s = time.perf_counter() - start
        n = len(images)
        image_bytes = image_size * image_size * 3
        return {
            "images": n,
            "image_size": image_size,
            "first_pass_images_per_s": n / first_s,
            "cached_load_images_per_s": n / cached_s,
            "dataset_images_per_s": delivered / dataset_s,
            "dataset_steps": steps,
            "cache_mb": n * image_bytes / 2**20,
            "full_celeba_cache_gb": FULL_CELEBA * image_bytes / 2**30,
            "peak_rss_mb": status_kib("VmHWM") / 1024,
            "peak_anon_rss_mb": sampler.peak_anon / 1024,
            "is_memmap": type(images).__name__ == "memmap",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def full_size_epoch(count: int, image_size: int, batch: int, n_critic: int, keep: bool) -> dict:
    """One epoch of batches from a count-image memmap; peak RSS of this (child) process."""
    import numpy as np

    import wgan.data
    from wgan.data import make_dataset

    if keep:
        wgan.data._RELEASE_EVERY = 2**62  # never release: every page read stays resident
    work = Path(tempfile.mkdtemp(prefix="wgan-bench-full-"))
    try:
        path = work / "full.u8cache"
        shape = (count, image_size, image_size, 3)
        with path.open("wb") as f:
            f.truncate(int(np.prod(shape)))  # sparse: reads as zeros, costs no disk
        images = np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
        with PeakSampler() as sampler:
            start = time.perf_counter()
            delivered = sum(int(e.shape[0] * e.shape[1])
                            for e in make_dataset(images, batch, n_critic, seed=0))
            seconds = time.perf_counter() - start
        return {"images": count, "cache_gb": path.stat().st_size / 2**30,
                "images_per_s": delivered / seconds, "peak_rss_mb": status_kib("VmHWM") / 1024,
                "peak_anon_rss_mb": sampler.peak_anon / 1024, "pages_released": not keep}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_full_size(args: argparse.Namespace, keep: bool) -> dict:
    command = [sys.executable, __file__, "--full-size-child", str(args.full_size),
               "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
               "--n-critic", str(args.n_critic), *(["--keep-pages"] if keep else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="JPEG files to load")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument(
        "--jpeg-dir",
        type=Path,
        default=ROOT / ".cache" / "bench-jpegs",
        help="where the generated JPEGs are kept between runs",
    )
    parser.add_argument(
        "--full-size", type=int, default=FULL_CELEBA,
        help="images in the full-size epoch (0 = skip it)",
    )
    parser.add_argument("--full-size-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keep-pages", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.full_size_child:
        import wgan  # noqa: F401

        child = full_size_epoch(
            args.full_size_child, args.image_size, args.batch_size, args.n_critic, args.keep_pages
        )
        print(json.dumps(child))
        return 0
    if args.images < args.batch_size * args.n_critic:
        parser.error(
            f"--images must be at least batch size x n_critic = {args.batch_size * args.n_critic}"
        )

    import wgan  # noqa: F401  (after the environment is set)

    folder = args.jpeg_dir / "img_align_celeba"
    wrote = write_jpegs(folder, args.images)
    if wrote:
        print(
            f"wrote {args.images} JPEG faces ({CELEBA_WIDTH}x{CELEBA_HEIGHT}) to {folder} "
            f"in {wrote:.0f} s",
            flush=True,
        )
    figures = measure(args.jpeg_dir, args.images, args.image_size, args.batch_size, args.n_critic)
    print(
        f"load_images, first pass (JPEG -> memmap): {figures['first_pass_images_per_s']:8.0f} "
        f"images/s"
    )
    print(
        f"load_images, cached (memmap reopened):    {figures['cached_load_images_per_s']:8.0f} "
        f"images/s"
    )
    print(
        f"make_dataset from the memmap:             {figures['dataset_images_per_s']:8.0f} images/s"
    )
    print(
        f"peak RSS {figures['peak_rss_mb']:.0f} MB (anonymous {figures['peak_anon_rss_mb']:.0f}"
        f" MB) with a {figures['cache_mb']:.0f} MB cache of {figures['images']} images; "
        f"full CelebA at this size is a {figures['full_celeba_cache_gb']:.2f} GB cache"
    )
    if args.full_size:
        for keep in (False, True):
            full = run_full_size(args, keep)
            figures["full_size_" + ("kept_pages" if keep else "released_pages")] = full
            how = "pages kept mapped" if keep else "pages released as read"
            print(f"one epoch over a {full['images']}-image ({full['cache_gb']:.2f} GB) cache, "
                  f"{how}: {full['images_per_s']:.0f} images/s, peak RSS "
                  f"{full['peak_rss_mb']:.0f} MB (anonymous {full['peak_anon_rss_mb']:.0f} MB)")
    print(json.dumps({"pipeline": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
