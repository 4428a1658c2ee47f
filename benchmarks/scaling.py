#!/usr/bin/env python
"""Throughput on 1 and 2 workers: one device, two replicas in one process, two processes.

    python benchmarks/scaling.py                       # 32x32 WGAN, batch 64, demo faces
    python benchmarks/scaling.py --quick               # 16x16, 3 short epochs: about a minute
    python benchmarks/scaling.py --image-size 32 64 --rounds 2 --json scaling.json

Each variant is ``scripts/train.py`` as a user runs it, with the same global batch, images,
seed and recipe (the WGAN paper's: ``--preset wgan``, n_critic 5, float32, ``--data demo``,
``--eval-every 0 --no-tensorboard``, a sample grid at the end only):

- one: ``--strategy one`` (the reference);
- mirrored: ``--strategy mirrored --cpu-devices 2``, two replicas in one process, the CPU split
  into two logical devices (the same cores);
- multiworker: ``--strategy multiworker``, two worker processes on 127.0.0.1 (ports picked at
  run time), ``TF_CONFIG`` differing only in the task index; worker 0 writes the run folder.

Rates come from the run folder's ``metrics.csv``: its ``seconds`` column times each epoch's
iterations (from the epoch's start to its row: no start-up, no epoch-end files). The first
epoch traces the graph, so the steady state is the median over the epochs after it. Start-up
is the time from starting the process(es) to the first epoch's row. Images per second count
the real images the critic is trained on: global batch x critic updates per iteration x
iterations per second (the generator's fakes come on top). The variants run in turn, round
after round, so that a busy neighbour hits all alike; each figure is the median over rounds.

The communication cost is counted two ways: from the built models (the bytes of the critic's
gradients, all-reduced at each of the n_critic critic updates, and of the generator's, at the
generator update) and from the graph itself: two worker processes trace one step under
``MultiWorkerMirroredStrategy`` and count the collective all-reduces in it, sorted by what
they carry (``--no-graph`` skips this; ``--quick`` too, unless ``--graph``). On 2 cores the
two replicas or workers share the cores, so no speed-up is to be expected: what this shows
is that the variants run, and what splitting the batch and talking to each other costs.
Prints a table and one JSON line (``--json`` writes it to a file as well).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.trainer import cpu_model  # noqa: E402
from scripts._common import quiet_stderr  # noqa: E402  (sets the environment)

VARIANTS = ("one", "mirrored", "multiworker")
FLAGS = {"one": ["--strategy", "one"],
         "mirrored": ["--strategy", "mirrored", "--cpu-devices", "2"],
         "multiworker": ["--strategy", "multiworker"]}  # fmt: skip
WORKERS = 2
RECIPE = ["--preset", "wgan", "--data", "demo", "--precision", "float32", "--seed", "0",
          "--eval-every", "0", "--sample-every", "1000", "--keep-every", "0",
          "--checkpoint-minutes", "0", "--no-tensorboard", "--no-cache"]  # fmt: skip


class BenchmarkError(Exception):
    """A run that failed or hung: the message says which and where its log is."""


# -- the models: parameters and what one iteration all-reduces --------------------------------
def model_config(size: int, batch: int, filters: int):
    from wgan.presets import resolve

    flags = {"image_size": size, "batch_size": batch, "filters": filters,
             "precision": "float32", "seed": 0}  # fmt: skip
    return resolve({}, "wgan", flags)


def traffic(size: int, batch: int, filters: int) -> dict:
    """Parameter counts of the built networks and the bytes the gradient all-reduces of one
    generator iteration carry (float32: 4 bytes a parameter)."""
    import numpy as np

    from wgan.build import build_gan

    config = model_config(size, batch, filters)
    model = build_gan(config)
    critic = sum(int(np.prod(v.shape)) for v in model.critic.trainable_variables)
    generator = sum(int(np.prod(v.shape)) for v in model.generator.trainable_variables)
    n_critic = model.schedule.real_batches
    return {
        "critic_params": critic,
        "generator_params": generator,
        "n_critic": n_critic,
        "real_images_per_iteration": config.batch_size * n_critic,
        "gradient_bytes_per_iteration": 4 * (n_critic * critic + generator),
        "batch_norm_layers": {
            "critic": _batch_norms(model.critic),
            "generator": _batch_norms(model.generator),
        },
    }


def _batch_norms(network) -> int:
    import keras

    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in network.layers)


def ring_bytes_per_device(total: int, devices: int) -> float:
    """What each device sends (and receives) in a ring all-reduce of ``total`` bytes."""
    return 2 * (devices - 1) / devices * total


# -- the collectives in a traced multi-worker step (a child process per worker) ----------------
def trace_worker(spec: dict) -> int:
    """In a worker of a 2-worker cluster (TF_CONFIG set): train 2 iterations on random images
    and print the collective all-reduces of the step's graph, sorted by what they carry."""
    with quiet_stderr():
        import numpy as np
        import tensorflow as tf

        from wgan.build import build_gan
        from wgan.distribute import make_strategy
    tf.config.optimizer.set_experimental_options({"remapping": False})  # as train.py
    strategy, cluster = make_strategy("multiworker", timeout=spec["timeout"])
    config = model_config(spec["size"], spec["batch"], spec["filters"])
    with strategy.scope():
        model = build_gan(config)
    groups = model.schedule.real_batches
    shape = (config.batch_size, groups, config.image_size, config.image_size, config.channels)
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensors(images).repeat(2).with_options(options)
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    function = _find_tf_function(model.train_function)
    sizes: list[tuple[str, int]] = []
    if function is not None:
        for concrete in function._list_all_concrete_functions():  # noqa: SLF001
            _collectives(concrete.graph, set(), sizes)
    critic = sum(int(np.prod(v.shape)) for v in model.critic.trainable_variables)
    generator = sum(int(np.prod(v.shape)) for v in model.generator.trainable_variables)
    found = {"found": function is not None, "critic gradients": [0, 0],
             "generator gradients": [0, 0], "batch-norm statistics": [0, 0],
             "metrics": [0, 0], "input": [0, 0]}  # fmt: skip
    for where, count in sizes:
        kind = ("critic gradients" if count == critic and where == "step" else
                "generator gradients" if count == generator and where == "step" else
                "metrics" if count == 1 and where == "step" else
                "input" if where == "outer" else "batch-norm statistics")  # fmt: skip
        found[kind][0] += 1
        found[kind][1] += count
    if cluster.is_chief:
        print("COLLECTIVES " + json.dumps(found), flush=True)
    return 0


def _find_tf_function(function, seen=None):
    """The ``tf.function`` behind Keras' ``train_function`` (a plain function wrapping it)."""
    seen = set() if seen is None else seen
    if hasattr(function, "_list_all_concrete_functions"):
        return function
    if id(function) in seen:
        return None
    seen.add(id(function))
    inner = [getattr(function, "__wrapped__", None)]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            inner.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    for candidate in inner:
        if callable(candidate):
            found = _find_tf_function(candidate, seen)
            if found is not None:
                return found
    return None


def _collectives(graph, seen: set, out: list, where: str = "outer") -> None:
    """(where, elements) of every collective reduce in ``graph`` and the functions it calls
    (``step`` inside the replica step's function)."""
    for op in graph.get_operations():
        if op.type.startswith("CollectiveReduce"):
            shape = op.inputs[0].shape
            out.append((where, int(shape.num_elements() or 0)))
    for name, function in getattr(graph, "_functions", {}).items():
        inner = getattr(function, "graph", None)
        if inner is None or name in seen:
            continue
        seen.add(name)
        _collectives(inner, seen, out, "step" if "one_step_on_data" in name else where)


def count_collectives(args: argparse.Namespace, size: int, work: Path) -> dict:
    spec = {"size": size, "batch": args.batch_size, "filters": args.filters,
            "timeout": args.worker_timeout}  # fmt: skip
    command = [sys.executable, str(Path(__file__).resolve()), "--trace-worker", json.dumps(spec)]
    logs, _ = run_workers(command, work / f"graph-{size}", args.timeout, "graph count")
    for line in logs[0].read_text(errors="replace").splitlines():
        if line.startswith("COLLECTIVES "):
            return json.loads(line.split(" ", 1)[1])
    raise BenchmarkError(f"the graph count printed nothing; see {logs[0]}")


# -- running train.py ----------------------------------------------------------------------------
def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held together while picked, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def _kill(process: subprocess.Popen) -> None:
    """End a process this benchmark started and what it started (its own session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def run_workers(command: list[str], run: Path, timeout: float, label: str,
                watch: Path | None = None) -> tuple[list[Path], float | None]:  # fmt: skip
    """Run ``command`` once per worker of a 2-worker cluster on 127.0.0.1 (TF_CONFIG differing
    in the task index, ports free at run time): their logs, and the moment ``watch`` (a
    metrics.csv) got its first row. Both are killed when one fails or ``timeout`` passes; a
    port taken by another program between the pick and the start gets one more try."""
    logs = [run.parent / f"{run.name}.worker{i}.log" for i in range(WORKERS)]
    for attempt in (1, 2):
        ports, env, processes = free_ports(WORKERS), dict(os.environ), []
        try:
            for index, log in enumerate(logs):
                env["TF_CONFIG"] = tf_config(ports, index)
                with open(log, "w") as out:
                    processes.append(subprocess.Popen(
                        command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                        start_new_session=True))  # fmt: skip
            return logs, _wait(processes, logs, timeout, label, watch)
        except BenchmarkError:
            taken = any("already in use" in log.read_text(errors="replace") for log in logs)
            if attempt == 2 or not taken:
                raise
            shutil.rmtree(run, ignore_errors=True)
        finally:
            for process in processes:
                _kill(process)
    raise AssertionError("unreachable")


def run_one(command: list[str], run: Path, timeout: float, label: str,
            watch: Path | None = None) -> tuple[list[Path], float | None]:  # fmt: skip
    """``run_workers`` for a single process (no TF_CONFIG)."""
    logs = [run.parent / f"{run.name}.log"]
    with open(logs[0], "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                   start_new_session=True)  # fmt: skip
    try:
        first_row = _wait([process], logs, timeout, label, watch)
    finally:
        _kill(process)
    return logs, first_row


def _wait(processes, logs, timeout: float, label: str, watch: Path | None) -> float | None:
    """Wait for every process; the moment ``watch`` first holds a data row (None if never)."""
    start = time.monotonic()
    first_row = None
    while True:
        codes = [p.poll() for p in processes]
        if first_row is None and watch is not None and _rows(watch) > 0:
            first_row = time.monotonic()
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            index, code = failed[0]
            raise BenchmarkError(
                f"{label}: process {index} exited {code}"
                f"{_tail(logs[index])}\n  logs: {', '.join(map(str, logs))}"
            )
        if all(c == 0 for c in codes):
            return first_row
        if time.monotonic() - start > timeout:
            raise BenchmarkError(f"{label}: still running after {timeout:g} s (--timeout); "
                                 f"killed\n  logs: {', '.join(map(str, logs))}")  # fmt: skip
        time.sleep(0.1)


def _rows(metrics: Path) -> int:
    try:
        return max(0, len(metrics.read_text().splitlines()) - 1)
    except OSError:
        return 0


def _tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return "; its last lines:\n    " + "\n    ".join(text)


def run_variant(variant: str, flags: list[str], run: Path, timeout: float,
                worker_timeout: float) -> dict:  # fmt: skip
    """One training run of ``variant``: its per-epoch figures and start-up."""
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *FLAGS[variant], *flags,
               "--run-dir", str(run)]  # fmt: skip
    metrics = run / "metrics.csv"
    busy, ours = busy_cpu_seconds(), own_cpu_seconds()
    start = time.monotonic()
    if variant == "multiworker":
        command += ["--worker-timeout", f"{worker_timeout:g}"]
        logs, first_row = run_workers(command, run, timeout, variant, metrics)
    else:
        logs, first_row = run_one(command, run, timeout, variant, metrics)
    wall = time.monotonic() - start
    others = (busy_cpu_seconds() - busy) - (own_cpu_seconds() - ours)
    from wgan.history import read_metrics

    rows = read_metrics(metrics)
    if len(rows) < 2:
        raise BenchmarkError(f"{variant}: {metrics} has {len(rows)} rows, at least 2 needed")
    steps = [int(r["step"]) for r in rows]
    iterations = [b - a for a, b in zip([0, *steps], steps, strict=False)]
    seconds = [r["seconds"] for r in rows]
    rates = [n / s for n, s in zip(iterations[1:], seconds[1:], strict=True)]
    said = _strategy_line(logs[0])
    return {
        "it_per_s": statistics.median(rates),
        "it_per_s_each_epoch": [round(r, 4) for r in rates],
        "iterations_per_epoch": iterations[0],
        "first_epoch_seconds": seconds[0],
        "startup_seconds": None if first_row is None else first_row - start,
        "wall_seconds": wall,
        "replicas": said.get("replicas", 1),
        "per_replica_batch": said.get("per_replica_batch"),
        "workers": WORKERS if variant == "multiworker" else 1,
        "others_cores": max(0.0, others / wall),
    }


def busy_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    jiffies = [int(x) for x in fields]
    busy = sum(jiffies[:8]) - jiffies[3] - jiffies[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of the runs it has waited for."""
    import resource

    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _strategy_line(log: Path) -> dict:
    """What train.py said of its strategy: "strategy: mirrored, 2 replicas; ... = 32 per
    replica" (none for one device)."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("strategy: "):
            words = line.replace(";", " ").replace(",", " ").split()
            return {"replicas": int(words[words.index("replicas") - 1]),
                    "per_replica_batch": int(words[words.index("per") - 1])}  # fmt: skip
    return {}


# -- the benchmark -------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    work = Path(args.work or tempfile.mkdtemp(prefix="wgan-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {
        "cpu": cpu_model(), "cores": os.cpu_count(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
        "load_before": [round(x, 2) for x in os.getloadavg()], "quick": args.quick,
        "settings": {"preset": "wgan", "batch_size": args.batch_size, "filters": args.filters,
                     "n_samples": args.n_samples, "epochs": args.epochs, "rounds": args.rounds,
                     "precision": "float32", "data": "demo"},
        "work": str(work), "sizes": [],
    }  # fmt: skip
    started = time.monotonic()
    for size in args.image_size:
        flags = [*RECIPE, "--image-size", str(size), "--batch-size", str(args.batch_size),
                 "--filters", str(args.filters), "--n-samples", str(args.n_samples),
                 "--epochs", str(args.epochs)]  # fmt: skip
        entry = {
            "image_size": size,
            "batch_size": args.batch_size,
            **traffic(size, args.batch_size, args.filters),
        }
        runs: dict[str, list[dict]] = {v: [] for v in args.variants}
        for round_ in range(args.rounds):
            for variant in args.variants:
                load = os.getloadavg()[0]
                run = work / f"{size}-{variant}-{round_}"
                print(f"  {size}x{size} {variant}, round {round_ + 1}/{args.rounds} "
                      f"(load {load:.2f})", file=sys.stderr, flush=True)  # fmt: skip
                figures = run_variant(variant, flags, run, args.timeout, args.worker_timeout)
                runs[variant].append({**figures, "load_at_start": round(load, 2)})
                shutil.rmtree(run, ignore_errors=True)
        entry["variants"] = {v: summarise(r, entry) for v, r in runs.items()}
        reference = entry["variants"].get("one")
        for figures in entry["variants"].values():
            figures["x_one"] = (figures["it_per_s"] / reference["it_per_s"]
                                if reference else None)  # fmt: skip
        if args.graph:
            print(f"  {size}x{size} collectives in a traced 2-worker step", file=sys.stderr,
                  flush=True)  # fmt: skip
            entry["collectives"] = count_collectives(args, size, work)
        result["sizes"].append(entry)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def summarise(runs: list[dict], entry: dict) -> dict:
    """The median over rounds of each figure, and images per second from iterations."""
    median = {key: statistics.median(r[key] for r in runs)
              for key in ("it_per_s", "first_epoch_seconds", "wall_seconds",
                          "others_cores")}  # fmt: skip
    startups = [r["startup_seconds"] for r in runs if r["startup_seconds"] is not None]
    last = runs[-1]
    return {
        **median,
        "images_per_s": median["it_per_s"] * entry["real_images_per_iteration"],
        "startup_seconds": statistics.median(startups) if startups else None,
        "replicas": last["replicas"], "workers": last["workers"],
        "per_replica_batch": last["per_replica_batch"] or entry["batch_size"],
        "iterations_per_epoch": last["iterations_per_epoch"],
        "rounds": runs,
    }  # fmt: skip


def report(r: dict) -> None:
    s = r["settings"]
    print(f"scaling.py on {r['cpu']} ({r['cores']} cores), {r['date']}; preset wgan, float32, "
          f"global batch {s['batch_size']}, filters {s['filters']}, {s['n_samples']} demo "
          f"faces, {s['epochs']} epochs (rates: median of the epochs after the first), "
          f"{s['rounds']} round(s); load average {r['load_before'][0]:.2f} before, "
          f"{r['load_after'][0]:.2f} after")  # fmt: skip
    for e in r["sizes"]:
        per_it = e["real_images_per_iteration"]
        steps = next(iter(e["variants"].values()))["iterations_per_epoch"]
        size = e["image_size"]
        print(
            f"\n{size}x{size}: {steps} iterations an epoch; images/s = {s['batch_size']} real "
            f"images per critic batch x {e['n_critic']} critic updates per iteration x it/s "
            f"({per_it} per iteration); others: the cores other programs kept busy meanwhile"
        )
        print(
            f"{'variant':<12}{'replicas':>9}{'workers':>8}{'batch/replica':>14}{'it/s':>8}"
            f"{'images/s':>10}{'x one':>7}{'start-up s':>11}{'1st epoch s':>12}{'wall s':>8}"
            f"{'others':>8}"
        )
        for name, v in e["variants"].items():
            ratio = f"{v['x_one']:.2f}" if v["x_one"] is not None else ""
            startup = f"{v['startup_seconds']:.1f}" if v["startup_seconds"] is not None else "?"
            print(f"{name:<12}{v['replicas']:>9}{v['workers']:>8}{v['per_replica_batch']:>14}"
                  f"{v['it_per_s']:>8.3f}{v['images_per_s']:>10.1f}{ratio:>7}{startup:>11}"
                  f"{v['first_epoch_seconds']:>12.1f}{v['wall_seconds']:>8.1f}"
                  f"{v['others_cores']:>8.2f}")  # fmt: skip
        total = e["gradient_bytes_per_iteration"]
        print(f"gradients all-reduced per iteration: critic {e['critic_params']:,} parameters x "
              f"4 bytes x {e['n_critic']} updates + generator {e['generator_params']:,} x 4 = "
              f"{total / 1e6:.2f} MB; a ring all-reduce sends and receives 2(N-1)/N of that per "
              "device: " + ", ".join(f"N={n} {ring_bytes_per_device(total, n) / 1e6:.1f} MB"
                                     for n in (2, 4, 8)))  # fmt: skip
        c = e.get("collectives")
        if c is not None and c.get("found"):
            kinds = [k for k in c if k != "found"]
            count = sum(c[k][0] for k in kinds)
            print(
                f"collective all-reduces in one traced 2-worker step: {count}: "
                + ", ".join(f"{c[k][0]} {k} ({c[k][1]:,} values)" for k in kinds)
                + "; and 1 outside it per iteration (wgan.distribute.Agreement)"
            )
        elif c is not None:
            print("collective all-reduces: Keras' train function not found; not counted")
    print(f"\n{r['seconds']:.0f} s in all")
    print(json.dumps(r))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--image-size", type=int, nargs="+", default=None, help="image sides (default 32; quick 16)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (default 64)")
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="demo faces (default 6400: 20 iterations an epoch; quick 1920)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="default 6; quick 3")
    parser.add_argument("--rounds", type=int, default=1, help="times each variant runs")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--graph",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count the collectives of a traced 2-worker step (default: on; off with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="16x16, 3 short epochs")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds one run may take before it is killed (default 1200; quick 300)",
    )
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=60.0,
        help="train.py --worker-timeout for the multiworker runs",
    )
    parser.add_argument(
        "--work",
        help="folder for the runs and logs (default: a new temporary "
        "one, removed at the end unless --keep or a run fails)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the runs and logs")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--trace-worker", help=argparse.SUPPRESS)  # the graph count's child
    args = parser.parse_args(argv)
    if args.trace_worker:
        return trace_worker(json.loads(args.trace_worker))
    args.image_size = args.image_size or ([16] if args.quick else [32])
    args.n_samples = args.n_samples or (1920 if args.quick else 6400)
    args.epochs = args.epochs or (3 if args.quick else 6)
    args.timeout = args.timeout or (300.0 if args.quick else 1200.0)
    args.graph = not args.quick if args.graph is None else args.graph
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first one traces)")
    if args.batch_size % WORKERS:
        parser.error(f"--batch-size must split evenly across {WORKERS} replicas")
    with quiet_stderr():
        import tensorflow  # noqa: F401

        import wgan  # noqa: F401
    try:
        result = measure(args)
    except BenchmarkError as err:
        sys.stderr.write(f"scaling.py: error: {err}\n")
        return 1
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
