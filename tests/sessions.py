"""What the in-process resume tests share: a signal's effect on cue, and a fresh session."""

from __future__ import annotations

import signal

import keras

from wgan.interrupt import StopRequest
from wgan.trainer import Session, start_run


class StopAt(keras.callbacks.Callback):
    """A signal's effect, on cue: ask for a stop as the ``at``-th iteration of this session
    begins (training finishes it, saves and raises ``Interrupted``)."""

    def __init__(self, at: int, request: StopRequest, signum: int = signal.SIGTERM):
        super().__init__()
        self.at, self.request, self.signum, self.seen = at, request, signum, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            self.request.signum = self.signum


def start(config, **kwargs) -> Session:
    """``start_run`` as a new process would: layers named from scratch."""
    keras.backend.clear_session()
    return start_run(config, cache_dir=None, **kwargs)
