"""Exceptions the scripts turn into one-line messages for the user."""


class WganError(Exception):
    """Base class: a problem the user can fix; the message names the file or flag and the fix."""


class DataError(WganError, ValueError):
    """Images could not be found or read."""


class ConfigError(WganError, ValueError):
    """A hyperparameter has a value the models or the trainer cannot use."""


class DiskFullError(WganError, OSError):
    """The disk filled while the run was writing; what was saved before stays readable."""
