"""Training on several devices or machines with TensorFlow's own ``tf.distribute``.

``--strategy`` picks one of: ``one`` device; ``mirrored``, every local GPU (or logical CPU
device) in one process, through ``MirroredStrategy``; ``multiworker``, one process per machine
through ``MultiWorkerMirroredStrategy``, configured by the standard ``TF_CONFIG`` variable;
``auto``, mirrored when there are several GPUs, else one device. The batch keeps its meaning
(the global batch, split across replicas); each replica's gradients are all-reduced (summed)
before every update, so all replicas apply the same update and their weights stay equal.

Multi-worker runs need three things that one process does not:
- **The cluster answers, or the process ends.** ``MultiWorkerMirroredStrategy()`` waits inside
  TensorFlow until every worker has joined, with no timeout, holding Python's lock (no signal
  handler or thread runs). A watchdog process probes the peers' addresses meanwhile and,
  after ``timeout`` seconds, ends this one with a line naming the address that never
  answered (``wait_for_cluster``). A worker that dies later is noticed by the heartbeat of
  TensorFlow's coordination service (about 10 s here), and ``fit`` raises.
- **Every worker makes the same collective calls.** Reading a metric's running mean (a
  sync-on-read variable), and so every checkpoint save, all-reduces across the workers: a
  save on one worker only would wait forever. So every worker runs the same callbacks at the
  same iterations (the chief into the run folder, the others into a scratch folder), and the
  decisions that depend on a clock, a signal or a float (a timed save, a stop, a new best
  SWD) are agreed with one all-reduce (``Agreement``).
- **The chief alone writes the run folder**: worker 0 of ``TF_CONFIG`` (or the ``chief``
  task). A restarted worker reads the chief's checkpoint, so a resume needs the run folder
  on a file system every worker sees.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from wgan.errors import ConfigError

STRATEGIES = ("auto", "one", "mirrored", "multiworker")


@dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker run, as ``TF_CONFIG`` describes it."""

    addresses: tuple[tuple[str, int, str], ...]  # (task type, index, "host:port") of each task
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """The task that writes the run folder: ``chief`` if listed, else worker 0."""
        has_chief = any(kind == "chief" for kind, _, _ in self.addresses)
        if has_chief:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def me(self) -> str:
        return f"{self.task_type} {self.task_index}"

    @property
    def peers(self) -> list[tuple[str, str]]:
        """(name, address) of every other task."""
        return [(f"{kind} {index}", address) for kind, index, address in self.addresses
                if (kind, index) != (self.task_type, self.task_index)]  # fmt: skip

    @property
    def workers(self) -> int:
        return len(self.addresses)


def read_cluster(environ: Mapping[str, str] = os.environ) -> Cluster:
    """The cluster of ``TF_CONFIG``, checked: one ConfigError naming what is wrong."""
    text = environ.get("TF_CONFIG", "")
    example = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')  # fmt: skip
    if not text.strip():
        raise ConfigError(f"--strategy multiworker needs the TF_CONFIG environment variable "
                          f"on every worker ({example})")  # fmt: skip
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = str(task["type"]), int(task["index"])
        addresses = tuple(
            (job, i, str(address))
            for job in ("chief", "worker")
            for i, address in enumerate(cluster.get(job, []))
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ConfigError(f"TF_CONFIG is not a cluster spec ({type(err).__name__}: {err}); "
                          f"{example}") from None  # fmt: skip
    if (kind, index) not in {(job, i) for job, i, _ in addresses}:
        raise ConfigError(f"TF_CONFIG's task ({kind} {index}) is not in its cluster; give each "
                          "worker its own index into the cluster's worker list")  # fmt: skip
    for _, _, address in addresses:
        _host_port(address)
    return Cluster(addresses, kind, index)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"TF_CONFIG address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def wait_for_cluster(
    build: Callable[[], tf.distribute.Strategy], cluster: Cluster, timeout: float, prefix: str = ""
) -> tf.distribute.Strategy:
    """``build()`` the multi-worker strategy, which waits inside TensorFlow for every worker
    to join. A watchdog process (``wgan/peer_watch.py``) ends this process with one line on
    stderr (``prefix`` first) naming the peers that never answered, if they have not all
    joined within ``timeout`` seconds: no thread of this process could, since TensorFlow
    holds Python's lock while it waits."""
    peers = [f"{name}={address}" for name, address in cluster.peers]
    watchdog = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("peer_watch.py")), str(os.getpid()),
         str(timeout), prefix, f"{cluster.me} of a {cluster.workers}-worker run", *peers],
        start_new_session=True,  # a Ctrl-C at the terminal is not for it
    )  # fmt: skip
    try:
        return build()
    finally:
        watchdog.kill()
        watchdog.wait()


def _gpus() -> list[str]:
    return [device.name for device in tf.config.list_logical_devices("GPU")]


def make_strategy(
    name: str,
    cpu_devices: int = 1,
    timeout: float = 120.0,
    prefix: str = "",
) -> tuple[tf.distribute.Strategy, Cluster | None]:
    """The strategy ``--strategy`` names, and the cluster for ``multiworker``.

    ``cpu_devices`` > 1 splits the CPU into that many logical devices first (for trying
    ``mirrored`` without GPUs: each is one replica on the same cores). It must run before
    TensorFlow first touches a device.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if cpu_devices < 1:
        raise ConfigError(f"--cpu-devices must be at least 1, got {cpu_devices}")
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices
        )
    if name == "multiworker":
        cluster = read_cluster()
        strategy = wait_for_cluster(tf.distribute.MultiWorkerMirroredStrategy, cluster,
                                    timeout, prefix)  # fmt: skip
        return strategy, cluster
    gpus = _gpus()
    devices = gpus or [device.name for device in tf.config.list_logical_devices("CPU")]
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy(devices), None
    return tf.distribute.get_strategy(), None


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` spans several processes (its collectives cross the network)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()  # noqa: SLF001 (no public equivalent)
    )


def lost_peer(err: Exception) -> str:
    """The worker a collective's failure names ("worker 1"), or "a worker": the heartbeat
    lists the tasks it lost one per line; a broken connection names its remote target."""
    text = str(err)
    found = re.findall(r"^/job:(\w+)/replica:\d+/task:(\d+)\s*$", text, re.M) or re.findall(
        r"remote target /job:(\w+)/replica:\d+/task:(\d+)", text
    )
    return f"{found[0][0]} {found[0][1]}" if found else "a worker"


def per_replica_batch(batch_size: int, replicas: int) -> int:
    """Each replica's share of the global batch; it must split evenly, so that every
    replica's batch statistics and gradients weigh the same."""
    if batch_size % replicas:
        raise ConfigError(
            f"--batch-size {batch_size} does not split evenly across {replicas} replicas: use "
            f"a multiple of {replicas} (the batch is the global one, split across replicas)"
        )
    return batch_size // replicas


class Agreement:
    """One decision for every worker: ``agree(*flags)`` sums each flag over the workers, so
    a save or a stop that one worker decides (its clock, a signal it got, its SWD) happens on
    all of them at the same iteration. One small all-reduce, which every worker must make at
    the same points; in one process the flags come back unchanged, at no cost."""

    def __init__(self, strategy: tf.distribute.Strategy | None = None):
        self.strategy = strategy
        self._sum = None
        if strategy is not None and is_multi_worker(strategy):
            self._sum = tf.function(self._all_reduce)
            # Each of a worker's replicas adds its flags: divide by the replicas per worker.
            self._local = len(strategy.extended.worker_devices)

    def _all_reduce(self, values):
        def replica(v):
            # A new tensor on this replica's device: a constant may sit on /job:localhost,
            # which a collective cannot place.
            return tf.distribute.get_replica_context().all_reduce("SUM", tf.identity(v))

        result = self.strategy.run(replica, args=(values,))
        return self.strategy.experimental_local_results(result)[0]

    def __call__(self, *flags: float) -> tuple[int, ...]:
        if self._sum is None:
            return tuple(int(flag) for flag in flags)
        sums = self._sum(tf.constant([float(flag) for flag in flags], tf.float32)).numpy()
        return tuple(int(round(value / self._local)) for value in sums)
