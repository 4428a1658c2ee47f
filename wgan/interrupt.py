"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what preemptible machines send first).

The first signal only asks: training finishes the iteration in progress, saves the full state
and raises ``Interrupted`` (``wgan.callbacks.InsideEpoch``). A second signal gets the default
action, so the process ends at once; every file the run writes is replaced atomically, so an
ended process leaves the last good state as a kill does. (Python sees a signal between two of
its own steps: two that arrive during one long TensorFlow call count as one.)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Set by a signal handler (or a caller), read by training after each iteration."""

    signum: int | None = None
    peer: bool = False  # another worker of a multi-worker run got the signal

    def __bool__(self) -> bool:
        return self.signum is not None

    def from_peer(self) -> None:
        """Stop because another worker stops (they train in lockstep: none goes on alone)."""
        self.signum, self.peer = signal.SIGTERM, True

    @property
    def name(self) -> str:
        if self.peer:
            return "a signal to another worker"
        return signal.Signals(self.signum).name if self.signum else ""


class Interrupted(Exception):
    """Training stopped on request after saving its state; ``exit_code`` is the shell's
    convention for the signal (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, request: StopRequest, epoch: int, position: int, step: int, saved: str):
        self.signum = request.signum
        self.signal_name = request.name
        self.epoch, self.position, self.step, self.saved = epoch, position, step, saved
        where = f"epoch {epoch + 1}, iteration {position}" if position else f"end of epoch {epoch}"
        super().__init__(f"stopped by {self.signal_name or 'request'} at {where} "
                         f"(iteration {step} in all); saved {saved}")  # fmt: skip

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


@contextlib.contextmanager
def catch_signals(request: StopRequest | None = None) -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set ``request`` (the first one; later ones end the
    process). Outside the main thread signals cannot be caught: the block then changes nothing."""
    request = request if request is not None else StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        request.signum = signum
        for each in SIGNALS:  # a second signal: the default action, at once
            if previous[each] is not signal.SIG_IGN:
                signal.signal(each, signal.SIG_DFL)

    # A signal the process was started to ignore (nohup, `cmd &` in a script) stays ignored.
    previous = {each: signal.getsignal(each) for each in SIGNALS}
    for each, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(each, handler)
    try:
        yield request
    finally:
        for each, old in previous.items():
            # None: a handler installed from C, which Python cannot put back; the default then.
            signal.signal(each, signal.SIG_DFL if old is None else old)
