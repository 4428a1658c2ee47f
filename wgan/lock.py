"""One training process per run folder: an advisory lock the kernel drops when its holder dies.

``flock`` on ``RUN/.lock``: a second ``train.py --resume RUN`` (or a new run given the same
``--run-dir``) is refused while the first trains, and a process killed with SIGKILL leaves
no stale lock behind (the file stays; the lock goes with the process).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from wgan.errors import ConfigError


class RunLock:
    """Holds ``path`` locked from ``acquire`` until ``release`` (or the process's end)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise ConfigError(
                f"cannot write {self.path} ({err.strerror}): a run folder must be writable to "
                "train into it; copy it somewhere writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ConfigError(
                f"{self.path.parent} is being trained by process {holder}: wait for it to end "
                "or stop it (Ctrl-C saves its state), then --resume"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
