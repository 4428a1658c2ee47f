"""A watchdog for a multi-worker start, run as its own process (standard library only).

``MultiWorkerMirroredStrategy()`` waits inside TensorFlow, holding Python's lock, until every
worker has joined: no Python thread of that process runs meanwhile, and it has no timeout. This
process probes the peers' addresses instead and, when its parent has not been told to go on
within the timeout, writes one line naming the peers that never answered and ends the parent
(SIGTERM, which TensorFlow's wait ignores, then SIGKILL). The parent kills it once the strategy
is built; it also ends when the parent is gone.

Usage: python peer_watch.py PARENT_PID TIMEOUT PREFIX WHO NAME=HOST:PORT ...
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time


def answers(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def message(who: str, silent: list[tuple[str, str]], timeout: float) -> str:
    if silent:
        names = ", ".join(f"{name} at {address}" for name, address in silent)
        problem = f"{names} {'does' if len(silent) == 1 else 'do'} not answer"
    else:
        problem = "every peer answers but not all joined the run"
    return (f"{who}: {problem} after {timeout:g} s (--worker-timeout): start every worker "
            "of TF_CONFIG with the same command, or check the addresses and the firewall")


def main(argv: list[str]) -> int:
    parent, timeout, prefix, who = int(argv[0]), float(argv[1]), argv[2], argv[3]
    silent = [tuple(peer.split("=", 1)) for peer in argv[4:]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.getppid() != parent:  # the parent ended (its pid may be another's soon)
            return 0
        silent = [(name, address) for name, address in silent if not answers(address)]
        time.sleep(0.5)
    sys.stderr.write(f"{prefix}{message(who, silent, timeout)}\n")
    sys.stderr.flush()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(parent, sig)
        except ProcessLookupError:
            return 0
        time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
