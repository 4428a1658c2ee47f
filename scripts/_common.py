"""What every script shares: the import path, quiet TensorFlow start-up, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def quiet_stderr():
    """Silence C++ start-up chatter that TF_CPP_MIN_LOG_LEVEL no longer reaches (absl logs)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_wgan() -> None:
    """Import TensorFlow, Keras and wgan (registering its custom objects) without the noise."""
    with quiet_stderr():
        import tensorflow  # noqa: F401

        import wgan  # noqa: F401


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: the problem and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
