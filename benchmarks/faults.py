#!/usr/bin/env python
"""What kills, hostile files and a full disk cost a run: counted, not assumed.

    python benchmarks/faults.py                 # 20 kills for each of wgan and pix2pix, ...
    python benchmarks/faults.py --quick         # the test suite's version: 2 kills, wgan only

Three parts, on the built-in demo data at a small size, float32:

- kills: ``scripts/train.py`` is started, killed with SIGKILL at a random moment (seeded,
  uniform over the length of an uninterrupted run), resumed with ``--resume`` (itself killed
  next time), until ``--kills`` kills have landed; then it runs to its end. After every kill
  each file of the run folder is read back (PNG, JSON, CSV, every checkpoint the index lists,
  ``.keras``, ``.weights.h5``). At the end: metrics.csv's epochs duplicated or missing, rows
  and grids that differ from an uninterrupted run of the same seed (the ``seconds`` column
  aside), and whether the final checkpoint's every tensor equals that run's. The training a
  kill cost is the time from the newest save (or from when that process began to train, its
  start-up taken as long as the uninterrupted run's) to the kill, in seconds and in epochs
  of the uninterrupted run; each restart costs its start-up on top.
- corpus: ``tests/fuzz_corpus.py``'s hostile files through ``wgan.data.load_images`` in a
  child process with a time limit: files tried, converted, skipped, crashes and hangs.
- full disk: training into a small tmpfs (needs root, as CI runs), the disk filled just before
  one kind of write (checkpoint, partial checkpoint, grid, CSV row, loss plot, kept weights,
  ``.keras``): the run must stop with one line, every file written before must still read,
  and ``--resume`` must finish the run once the space is back.

Prints a table and one JSON line (``--json`` writes it to a file as well).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.trainer import cpu_model  # noqa: E402
from scripts._common import quiet_stderr  # noqa: E402

# Small runs of each model: epochs of a few seconds, so random kills land inside epochs,
# between them and during start-up alike; a save inside an epoch every ~1 s.
MODELS = {
    "wgan": ["--preset", "wgan", "--data", "demo", "--image-size", "32", "--filters", "16",
             "--n-samples", "1600", "--batch-size", "16"],
    "pix2pix": ["--preset", "pix2pix", "--image-size", "32", "--filters", "16",
                "--n-samples", "640", "--batch-size", "8", "--held-out", "0.1"],
}  # fmt: skip
COMMON = ["--epochs", "5", "--precision", "float32", "--seed", "3", "--eval-every", "2",
          "--eval-samples", "64", "--keep-every", "2",
          "--checkpoint-minutes", "0.02", "--no-cache"]  # fmt: skip
QUICK = {
    "wgan": ["--preset", "wgan", "--data", "demo", "--image-size", "16", "--filters", "8",
             "--n-samples", "480", "--batch-size", "8"],
}  # fmt: skip
QUICK_COMMON = ["--epochs", "3", "--precision", "float32", "--seed", "3", "--eval-every", "2",
                "--eval-samples", "32", "--keep-every", "1",
                "--checkpoint-minutes", "0.005", "--no-cache"]  # fmt: skip
WRITES = ("checkpoint", "partial", "grid", "csv", "plot", "kept", "keras")
TEMP_MARKERS = (".tmp-", "_temp", ".tempstate")  # wgan.io.TEMP_MARK, TensorFlow's


# -- reading a run folder back --------------------------------------------------------------
def unreadable_files(run: Path) -> tuple[list[str], list[str]]:
    """(files that do not read back, leftover temporary files) of a run folder."""
    bad, temps = [], []
    for path in sorted(run.rglob("*")):
        name = path.relative_to(run).as_posix()
        if any(marker in name for marker in TEMP_MARKERS) or path.name.startswith(".lock"):
            if path.is_file() and not path.name.startswith(".lock"):
                temps.append(name)
            continue
        if path.is_dir() or path.name.startswith(".write-test"):
            continue
        try:
            _read(path)
        except Exception as err:  # any failure to read is what this counts
            bad.append(f"{name} ({type(err).__name__}: {err})"[:200])
    bad += _unreadable_checkpoints(run)
    return bad, temps


def _read(path: Path) -> None:
    from PIL import Image

    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".weights.h5") else path.suffix
    if suffix == ".png":
        with Image.open(path) as im:
            im.verify()
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".csv":
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if rows and any(len(row) != len(rows[0]) for row in rows[1:]):
            raise ValueError("a row with the wrong number of columns")
    elif suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise ValueError("a damaged member")
    elif suffix == ".weights.h5":
        import h5py

        with h5py.File(path, "r") as f:
            f.visit(lambda name: None)
    elif path.name == "checkpoint":
        path.read_text()


def _unreadable_checkpoints(run: Path) -> list[str]:
    import tensorflow as tf

    bad = []
    for index in run.rglob("checkpoint"):
        state = tf.train.get_checkpoint_state(str(index.parent))
        for prefix in state.all_model_checkpoint_paths if state else []:
            if not Path(f"{prefix}.index").exists():
                # TensorFlow lists a save before it deletes the oldest: killed in between, the
                # list names one whose files are gone. No file of it is left to be unreadable.
                continue
            try:
                reader = tf.train.load_checkpoint(prefix)
                for key in reader.get_variable_to_shape_map():
                    reader.get_tensor(key)
            except Exception as err:  # a listed checkpoint that does not load is the failure
                bad.append(f"{prefix} ({type(err).__name__})")
    return bad


def epochs_in(metrics: Path) -> list[int]:
    from wgan.history import read_metrics  # wgan imports TensorFlow: after main's quiet import

    return [int(row["epoch"]) for row in read_metrics(metrics)]


def compare_runs(run: Path, reference: Path, epochs: int) -> dict:
    """How a run killed and resumed differs from the uninterrupted one."""
    found = epochs_in(run / "metrics.csv")
    duplicated = len(found) - len(set(found))
    missing = len(set(range(1, epochs + 1)) - set(found))
    rows, ref_rows = (_rows(r / "metrics.csv") for r in (run, reference))
    differing_rows = sum(a != b for a, b in zip(rows, ref_rows, strict=False))
    differing_rows += abs(len(rows) - len(ref_rows))
    grids = sorted(p.relative_to(reference).as_posix() for p in reference.glob("images/**/*.png"))
    differing_grids = sum(
        not (run / g).exists() or (run / g).read_bytes() != (reference / g).read_bytes()
        for g in grids
    )
    return {
        "rows_duplicated": duplicated,
        "rows_missing": missing,
        "rows_differing": differing_rows,
        "grids_differing": differing_grids,
        "weights_equal": _same_final_state(run, reference, epochs),
    }


def _rows(metrics: Path) -> list[dict]:
    with metrics.open(newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def _same_final_state(run: Path, reference: Path, epochs: int) -> bool:
    """Every tensor of the last checkpoint equal, bit for bit (the save counter aside)."""
    import numpy as np
    import tensorflow as tf

    prefixes = [r / "checkpoints" / f"last-{epochs}" for r in (run, reference)]
    if not all(Path(f"{p}.index").exists() for p in prefixes):
        return False
    readers = [tf.train.load_checkpoint(str(p)) for p in prefixes]
    keys = [set(r.get_variable_to_shape_map()) for r in readers]
    if keys[0] != keys[1]:
        return False
    skip = ("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH")
    return all(
        np.array_equal(readers[0].get_tensor(k), readers[1].get_tensor(k))
        for k in keys[0]
        if not k.startswith(skip)
    )


# -- kills ------------------------------------------------------------------------------------
def train_command(args: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "train.py"), *args]


def newest_save(run: Path) -> float:
    """The time of the run's newest save (a checkpoint index written), 0 for none."""
    times = [p.stat().st_mtime for p in run.glob("checkpoints/**/checkpoint")]
    return max(times, default=0.0)


def kill_run(model: str, flags: list[str], kills: int, seed: int, work: Path, log) -> dict:
    """The reference run, then one run killed ``kills`` times and resumed to its end."""
    epochs = int(flags[flags.index("--epochs") + 1])
    reference = work / f"{model}-reference"
    start = time.monotonic()
    done = subprocess.run(train_command([*flags, "--run-dir", str(reference)]),
                          stdout=log, stderr=log, cwd=ROOT)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"faults.py: the uninterrupted {model} run failed; see the log")
    length = time.monotonic() - start
    from wgan.history import read_metrics

    seconds = [r["seconds"] for r in read_metrics(reference / "metrics.csv")]
    epoch_seconds = sum(seconds) / len(seconds)
    # Time outside the epochs (start-up, the final saves): a restart costs it again.
    startup = max(0.0, length - sum(seconds))
    rng = random.Random(seed)
    run, landed, lost, unreadable, temps, failures, attempt = None, 0, [], [], 0, 0, 0
    starts = 0  # kills during a start-up (before the run folder line): no training lost
    while landed < kills:
        if run is None or _finished(run, epochs):
            attempt += 1
            run = work / f"{model}-killed-{attempt}"
        command = _next_command(run, flags)
        moment = rng.uniform(0.0, length)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
                                   text=True)  # fmt: skip
        began = _training_start(process, log)
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            landed += 1
            # Training lost: since the newest save, or since this life's training began
            # (nothing, when the kill came during the start-up).
            if began:
                lost.append(max(0.0, time.time() - max(newest_save(run), began[0])))
            else:
                starts += 1
            bad, left = unreadable_files(run) if run.exists() else ([], [])
            unreadable += bad
            temps += len(left)
            continue
        if process.returncode != 0:
            failures += 1
            print(f"faults.py: {' '.join(command)} exited {process.returncode}", file=log)
    final = subprocess.run(_next_command(run, flags), stdout=log, stderr=log, cwd=ROOT)
    failures += final.returncode != 0
    result = {
        "model": model,
        "kills": landed,
        "runs": attempt,
        "resume_failures": failures,
        "unreadable_files": len(unreadable),
        "unreadable_examples": unreadable[:3],
        "temp_files_left": temps,
        "kills_in_start_up": starts,
        "lost_seconds_mean": round(sum(lost) / max(1, len(lost)), 2),
        "lost_seconds_max": round(max(lost, default=0.0), 2),
        "epoch_seconds": round(epoch_seconds, 2),
        "lost_epochs_mean": round(sum(lost) / max(1, len(lost)) / epoch_seconds, 3),
        "lost_epochs_max": round(max(lost, default=0.0) / epoch_seconds, 3),
        "uninterrupted_seconds": round(length, 1),
        "restart_seconds": round(startup, 1),
        **compare_runs(run, reference, epochs),
    }
    for earlier in range(1, attempt):  # runs that ended before the kills did: also compared
        other = compare_runs(work / f"{model}-killed-{earlier}", reference, epochs)
        result["weights_equal"] = result["weights_equal"] and other["weights_equal"]
        for key in ("rows_duplicated", "rows_missing", "rows_differing", "grids_differing"):
            result[key] += other[key]
    return result


def _next_command(run: Path, flags: list[str]) -> list[str]:
    """``--resume``, or for a run killed before it was set up, the same command again."""
    if (run / "config.json").exists():
        return train_command(["--resume", str(run)])
    return train_command([*flags, "--run-dir", str(run)])


def _training_start(process: subprocess.Popen, log) -> list[float]:
    """A list that gets the moment train.py says "run folder: ..." (its start-up done, the
    first iteration next); its output goes on to the log."""
    import threading

    began: list[float] = []

    def read() -> None:
        for line in process.stdout:
            if not began and line.startswith("run folder:"):
                began.append(time.time())
            log.write(line)

    threading.Thread(target=read, daemon=True).start()
    return began


def _finished(run: Path, epochs: int) -> bool:
    return (run / "generator.keras").exists() and epochs in epochs_in(run / "metrics.csv")


# -- the corpus ---------------------------------------------------------------------------------
CORPUS_CHILD = """
import json, resource, sys, warnings
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from fuzz_corpus import make_corpus
from wgan.data import find_images, load_images
from pathlib import Path
folder = Path({folder!r})
made = make_corpus(folder)
tried = len(find_images(folder)[0])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    loaded = load_images(folder, n_samples=0, image_size=16, seed=0)
print(json.dumps({{"made": len(made), "tried": tried, "converted": len(loaded.images),
    "skipped": loaded.n_skipped, "warnings": [str(w.message) for w in caught],
    "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def corpus(work: Path, timeout: float = 300.0) -> dict:
    folder = work / "corpus"
    code = CORPUS_CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), folder=str(folder))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"crashes": 0, "hangs": 1}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"crashes": 1, "hangs": 0, "error": tail[0]}
    found = json.loads(done.stdout.strip().splitlines()[-1])
    warnings = found.pop("warnings")
    skipped = [w for w in warnings if "skipped" in w]
    return {**found, "crashes": 0, "hangs": 0, "summary_warnings": len(skipped),
            "summary": skipped[0][:300] if skipped else ""}  # fmt: skip


# -- a full disk --------------------------------------------------------------------------------
FILL_CHILD = """
import os, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {scripts!r})
import importlib.util
spec = importlib.util.spec_from_file_location("train_script", {train!r})
train = importlib.util.module_from_spec(spec); spec.loader.exec_module(train)
import wgan.callbacks, wgan.trainer
from wgan.checkpoint import TrainingState
kind, filler, after = {kind!r}, {filler!r}, {after}
calls = {{"n": 0}}

def fill():
    with open(filler, "ab") as f:
        block = b"\\0" * 65536
        try:
            while True:
                f.write(block); f.flush()
        except OSError:
            pass
        try:
            while True:
                f.write(b"\\0"); f.flush()
        except OSError:
            pass

def wrap(owner, name):
    original = getattr(owner, name)
    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == after:
            print("FILLING", flush=True)
            snapshot()
            fill()
        return original(*args, **kwargs)
    setattr(owner, name, wrapped)

def snapshot():
    import hashlib, json
    run = {run!r}
    found = {{}}
    for dirpath, _, names in os.walk(run):
        for n in names:
            p = os.path.join(dirpath, n)
            found[os.path.relpath(p, run)] = hashlib.md5(open(p, "rb").read()).hexdigest()
    with open(filler + ".snapshot.json", "w") as f:
        json.dump(found, f)

targets = {{
    "checkpoint": (TrainingState, "save"), "partial": (TrainingState, "save_partial"),
    "grid": (wgan.callbacks, "save_png"), "csv": (wgan.callbacks, "append_row"),
    "plot": (wgan.callbacks, "plot_losses"), "kept": (wgan.callbacks, "save_generator_weights"),
    "keras": (wgan.trainer, "save_model"),
}}
wrap(*targets[kind])
sys.exit(train.main({argv!r}))
"""


def full_disk(kind: str, flags: list[str], work: Path, log, size_mib: int = 48) -> dict:
    """Fill a small tmpfs just before the ``kind`` write (its second call, so earlier ones
    exist), then free it and resume."""
    epochs = int(flags[flags.index("--epochs") + 1])
    mount = work / f"disk-{kind}"
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs",
                           str(mount)], capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        return {"kind": kind, "error": f"cannot mount a tmpfs: {done.stderr.strip()}"}
    try:
        run, filler = mount / "run", mount / "filler"
        argv = [*flags, "--run-dir", str(run)]
        if kind == "partial":  # saves inside every epoch, so there is a second one to fill
            argv += ["--checkpoint-minutes", "0.0005"]
        code = FILL_CHILD.format(root=str(ROOT), scripts=str(ROOT / "scripts"),
                                 train=str(ROOT / "scripts" / "train.py"), kind=kind,
                                 filler=str(filler), after=2 if kind != "keras" else 1,
                                 run=str(run), argv=argv)  # fmt: skip
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               cwd=ROOT)  # fmt: skip
        log.write(child.stdout + child.stderr)
        filled = "FILLING" in child.stdout
        errors = [line for line in child.stderr.splitlines() if "error:" in line]
        snapshot = json.loads(Path(f"{filler}.snapshot.json").read_text()) if filled else {}
        bad, temps = unreadable_files(run)
        lost = [name for name in snapshot if not (run / name).exists()]
        lost += [b for b in bad]
        filler.unlink(missing_ok=True)
        resumed = subprocess.run(train_command(["--resume", str(run)]), stdout=log, stderr=log,
                                 cwd=ROOT)  # fmt: skip
        found = epochs_in(run / "metrics.csv")
        return {
            "kind": kind,
            "filled": filled,
            "exit_code": child.returncode,
            "one_line": len(errors) == 1 and "disk" in errors[0] and "full" in errors[0],
            "message": errors[0][:240] if errors else child.stderr.strip()[-240:],
            "files_before": len(snapshot),
            "files_lost": len(lost),
            "lost_examples": lost[:3],
            "temp_files_left": len(temps),
            "resumed_exit_code": resumed.returncode,
            "resumed_complete": sorted(found) == list(range(1, epochs + 1)),
        }
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# -- the report ---------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    models = QUICK if args.quick else MODELS
    common = QUICK_COMMON if args.quick else COMMON
    common = [args.precision if flag == "float32" else flag for flag in common]
    chosen = args.models.split(",") if args.models else list(models)
    quick_kinds = ["checkpoint"]  # TensorFlow's own writer: what a Python simulation misses
    kinds = args.writes.split(",") if args.writes else (quick_kinds if args.quick else list(WRITES))
    work = Path(args.work or tempfile.mkdtemp(prefix="wgan-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "faults.log"
    result = {"cpu": cpu_model(), "quick": args.quick, "kills_per_model": args.kills,
              "seed": args.seed, "precision": args.precision, "log": str(log_path)}  # fmt: skip
    with open(log_path, "a") as log:
        result["kills"] = [
            kill_run(m, [*models[m], *common], args.kills, args.seed + i, work, log)
            for i, m in enumerate(chosen)
        ]
        result["corpus"] = corpus(work)
        disk_flags = [*models[chosen[0]], *common]
        result["full_disk"] = [full_disk(kind, disk_flags, work, log) for kind in kinds]
    result["ok"] = verdict(result)
    if not args.keep:
        for path in work.iterdir():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
    return result


def verdict(r: dict) -> bool:
    kills_ok = all(
        k["unreadable_files"] == 0 and k["rows_duplicated"] == 0 and k["rows_missing"] == 0
        and k["rows_differing"] == 0 and k["grids_differing"] == 0 and k["weights_equal"]
        and k["resume_failures"] == 0
        for k in r["kills"]
    )  # fmt: skip
    corpus_ok = r["corpus"].get("crashes") == 0 and r["corpus"].get("hangs") == 0
    disk_ok = all(
        d.get("filled") and d.get("files_lost") == 0 and d.get("one_line")
        and d.get("resumed_exit_code") == 0 and d.get("resumed_complete")
        for d in r["full_disk"]
    )  # fmt: skip
    return kills_ok and corpus_ok and disk_ok


def report(r: dict) -> None:
    print(f"faults.py on {r['cpu']} ({'quick' if r['quick'] else 'full'}; seed {r['seed']}; "
          f"{r['precision']})")
    print("\nkills (SIGKILL at random moments, each followed by --resume)")
    print(f"{'model':<9}{'kills':>6}{'unreadable':>11}{'dup rows':>9}{'missing':>8}"
          f"{'rows !=':>8}{'grids !=':>9}{'weights ==':>11}{'lost s (mean/max)':>19}"
          f"{'lost epochs (mean/max)':>24}")  # fmt: skip
    for k in r["kills"]:
        print(f"{k['model']:<9}{k['kills']:>6}{k['unreadable_files']:>11}"
              f"{k['rows_duplicated']:>9}{k['rows_missing']:>8}{k['rows_differing']:>8}"
              f"{k['grids_differing']:>9}{str(k['weights_equal']):>11}"
              f"{k['lost_seconds_mean']:>11.2f}/{k['lost_seconds_max']:<7.2f}"
              f"{k['lost_epochs_mean']:>16.3f}/{k['lost_epochs_max']:<7.3f}")  # fmt: skip
        print(f"{'':<9}{k['kills_in_start_up']} kills came during a start-up; each restart "
              f"costs {k['restart_seconds']} s of start-up; an epoch takes "
              f"{k['epoch_seconds']} s, the whole run {k['uninterrupted_seconds']} s")
    c = r["corpus"]
    print(f"\ncorpus: {c.get('tried', '?')} files tried, {c.get('converted', '?')} converted, "
          f"{c.get('skipped', '?')} skipped, {c['crashes']} crashes, {c['hangs']} hangs, "
          f"peak memory {c.get('max_rss_mib', 0):.0f} MiB")  # fmt: skip
    if c.get("summary"):
        print(f"  warning: {c['summary']}")
    print("\nfull disk (a tmpfs filled just before one kind of write)")
    for d in r["full_disk"]:
        if "error" in d:
            print(f"  {d['kind']:<11} not run: {d['error']}")
            continue
        print(f"  {d['kind']:<11} files lost {d['files_lost']} of {d['files_before']}, "
              f"exit {d['exit_code']}, one line {d['one_line']}, resumed "
              f"{'to the end' if d['resumed_complete'] else 'NOT to the end'}")  # fmt: skip
    print(f"\nall as required: {r['ok']}")
    print(json.dumps(r))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=None, help="kills per model (20; quick 2)")
    parser.add_argument("--models", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--writes", help=f"full-disk cases, of {', '.join(WRITES)}")
    parser.add_argument("--quick", action="store_true", help="the test suite's short version")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="float32", help="float32 (default) or bf16")
    parser.add_argument("--work", help="folder for the runs (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the runs")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.kills is None:
        args.kills = 2 if args.quick else 20
    with quiet_stderr():  # TensorFlow's start-up chatter (it reads checkpoints back)
        import tensorflow  # noqa: F401
    result = measure(args)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
