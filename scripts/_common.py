"""What every script shares: the import path, quiet TensorFlow start-up, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = (ROOT / "wgan" / "__init__.py").is_file() and (ROOT / "scripts").is_dir()
if CHECKOUT and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Where runs/, celeba-dataset/ and .cache/ are: the checkout, or for an installed program
# (wgan-train, ...) the folder it is started from.
HOME = ROOT if CHECKOUT else Path.cwd()
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


def skip_failing_remapper() -> None:
    """Turn off grappler's remapper, which fails on every training graph and says so on stderr.

    It tries to fuse the critic's first Conv2D + bias + LeakyReLU while LeakyReluGrad still
    needs the unfused bias output, gives up with "remapper failed: ... LeakyReluGrad", and
    leaves that graph unfused anyway. Turned off, the message is gone at the same speed
    (benchmarks/train_step.py: 0.50 vs 0.50 it/s float32, 0.89 vs 0.88 bf16, 64x64).
    """
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"remapping": False})


def run_cli(prog: str, body, args, errors: tuple = (), interrupted: str = "interrupted") -> int:
    """Run a script's body: a WganError (or one of ``errors``) becomes one line on stderr and
    exit code 2, Ctrl-C a short note and 130; anything else is a bug and keeps its traceback."""
    from wgan.errors import WganError

    try:
        return body(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{prog}: {interrupted}\n")
        return 130
    except (WganError, *errors) as err:
        message = " ".join(str(err).split())
        sys.stderr.write(f"{prog}: error: {message}\n")
        return 2


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: the problem and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
