"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class BenchError(Exception):
    """A problem the user can fix: bad option, missing data, corrupt file, ...

    The message must name the thing (option, file, plugin) and say how to fix it.
    """

    exit_code = 2


class ConfigError(BenchError):
    """An invalid option value or an unknown option."""


class DataError(BenchError):
    """Missing, corrupt or inconsistent dataset files."""


class PluginError(BenchError):
    """Unknown plugin name, duplicate registration, broken plugin."""


class WeightsError(BenchError):
    """A pretrained file that is missing or fails its checksum."""


class TrainingDiverged(Exception):
    """A loss became NaN or infinite; the model's run is recorded as failed."""
