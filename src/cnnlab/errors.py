"""The exception hierarchy: every error cnnlab raises on purpose is a `CnnlabError`.

Messages name the file, key or layer at fault and what was expected, so a user can act on
them without reading the code.
"""


class CnnlabError(Exception):
    """Root of every error cnnlab raises on purpose."""


class ConfigError(CnnlabError, ValueError):
    """A config key or value is unknown or invalid."""


class DataError(CnnlabError):
    """A dataset cannot be found, read or subset as asked."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """No copy of a dataset was found in any of the places looked at."""


class DataFormatError(DataError, ValueError):
    """A data file exists but does not hold what its format promises (truncated, bad magic...)."""


class DataTooLargeError(DataError):
    """Reading a dataset would take more memory than `data.max_gib` allows (or than there is)."""


class UnsafeDataError(DataError):
    """A file tries something a dataset must never do (code in a pickle, a path outside the target)."""


class ChecksumError(DataError):
    """A downloaded file's checksum does not match the published one."""


class ModelError(CnnlabError, ValueError):
    """A model name, option or layer spec is invalid, or its shapes do not fit."""


class TrainingError(CnnlabError):
    """Training cannot go on (diverged, interrupted, bad checkpoint)."""


class ExportError(CnnlabError):
    """A run cannot be exported as asked, or an exported file does not answer as the run does."""


class StorageError(CnnlabError):
    """An Optuna storage cannot be opened, holds another spec's study, or has points to do."""
