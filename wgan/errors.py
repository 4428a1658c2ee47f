"""Exceptions the scripts turn into one-line messages for the user."""


def first_line(err: BaseException, limit: int = 300) -> str:
    """What an underlying error says, fit for the middle of a one-line message: its first
    line, whitespace collapsed, cut at ``limit`` characters (its type when it says nothing)."""
    lines = str(err).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WganError(Exception):
    """Base class: a problem the user can fix; the message names the file or flag and the fix."""


class DataError(WganError, ValueError):
    """Images could not be found or read."""


class ConfigError(WganError, ValueError):
    """A hyperparameter has a value the models or the trainer cannot use."""


class PeerLostError(WganError):
    """A worker of a multi-worker run stopped answering; every worker must be restarted."""


class DiskFullError(WganError, OSError):
    """The disk filled while the run was writing; what was saved before stays readable."""
