"""The benchmarks' bookkeeping (no timing): names, ratios and variant specs come out right."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import scaling  # noqa: E402
from benchmarks.quality import parse_variant  # noqa: E402
from benchmarks.train_step import PEAK_SHAPES, Variant, summarise, variant_name  # noqa: E402


def timed(name: str, seconds: float, gflop: float = 0.0, peak: str = "") -> Variant:
    return Variant(name, lambda: None, gflop=gflop, peak=peak, times=[seconds])


def test_preset_variants_peaks_and_ratios_are_summarised_under_their_own_names():
    variants = [
        timed(variant_name("wgan", "bf16"), 1.0, gflop=700.0, peak="peak_bf16"),
        timed(variant_name("wgan-gp", "bf16"), 2.0, peak="peak_bf16"),
        timed(variant_name("dcgan", "bf16"), 0.25, gflop=100.0, peak="peak_bf16"),
        timed("reference", 2.0, gflop=700.0, peak="peak_float32"),
    ]
    for peak, seconds in (("peak_bf16", (1.0, 0.5)), ("peak_float32", (2.0, 1.0))):
        variants += [timed(f"{peak}#{i}", s, gflop=1000.0) for i, s in enumerate(seconds)]
    figures = summarise(variants)
    assert set(figures) == {"bf16", "wgan-gp/bf16", "dcgan/bf16", "reference",
                            "peak_bf16", "peak_float32"}  # fmt: skip
    assert figures["peak_bf16"]["gflops"] == 2000.0  # the faster of the two shapes
    assert figures["peak_bf16"]["conv"].startswith("x".join(map(str, PEAK_SHAPES[1][0])))
    assert figures["wgan-gp/bf16"]["x_wgan"] == 0.5 and figures["dcgan/bf16"]["x_wgan"] == 4.0
    assert figures["wgan-gp/bf16"]["gflops"] is None  # second-order passes are not counted
    assert figures["bf16"]["x_reference"] == 2.0
    assert figures["bf16"]["pct_of_peak"] == 35.0


def test_a_quality_variant_is_a_preset_with_changes():
    assert parse_variant("dcgan") == ("dcgan", {})
    assert parse_variant("dcgan,ema=0.99,norm=layer,spectral-norm=true") == (
        "dcgan", {"ema": 0.99, "norm": "layer", "spectral_norm": True}
    )
    with pytest.raises(SystemExit, match="key=value"):
        parse_variant("dcgan,ema")


def test_scaling_reads_train_py_and_counts_images_and_ring_bytes(tmp_path):
    log = tmp_path / "worker0.log"
    log.write_text("run folder: RUN  (preset wgan; 20 generator iterations per epoch)\n"
                   "strategy: multiworker, 2 replicas; worker 0 of 2, the chief; batch 64 = 32 "
                   "per replica\n")  # fmt: skip
    assert scaling._strategy_line(log) == {"replicas": 2, "per_replica_batch": 32}
    log.write_text("run folder: RUN\n")  # one device: train.py says nothing of a strategy
    assert scaling._strategy_line(log) == {}
    assert '"task": {"type": "worker", "index": 1}' in scaling.tf_config([5000, 5001], 1)
    assert scaling.ring_bytes_per_device(1000, 2) == 1000.0
    assert scaling.ring_bytes_per_device(1000, 8) == 1750.0  # 2 (N - 1) / N of the bytes
    run = dict(first_epoch_seconds=9.0, wall_seconds=60.0, startup_seconds=None, replicas=1,
               workers=1, per_replica_batch=None, iterations_per_epoch=20,
               others_cores=0.0)  # fmt: skip
    rounds = [{**run, "it_per_s": 2.0}, {**run, "it_per_s": 1.0, "startup_seconds": 20.0}]
    figures = scaling.summarise(rounds, {"real_images_per_iteration": 320, "batch_size": 64})
    assert figures["it_per_s"] == 1.5 and figures["images_per_s"] == 480.0  # medians
    assert figures["startup_seconds"] == 20.0 and figures["per_replica_batch"] == 64
