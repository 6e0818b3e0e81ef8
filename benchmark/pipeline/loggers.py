"""The run's loggers as one: each call goes to every logger, and a logger that fails is switched off
with one line (its package missing, no network, a full disk) while the training goes on."""

from __future__ import annotations

from typing import Callable, Iterable

from benchmark.api.logger import Logger, LogRun


class Loggers:
    """Fans ``start``/``losses``/``metrics``/``image``/``close`` out to ``loggers``; never raises."""

    def __init__(self, loggers: Iterable[Logger] = (), say: Callable[[str], None] = print):
        self.active: list[Logger] = list(loggers)
        self.say = say
        self.failed: dict[str, str] = {}  # logger name -> the line that switched it off

    def __bool__(self) -> bool:
        return bool(self.active)

    def _each(self, method: str, *args) -> None:
        for logger in list(self.active):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a logger never stops the training
                self.active.remove(logger)
                line = failure_line(logger, method, exc)
                self.failed[logger.name] = line
                self.say(line)
                if method != "start":
                    try:
                        logger.close()
                    except Exception:  # noqa: BLE001
                        pass

    def start(self, run: LogRun) -> None:
        self._each("start", run)

    def losses(self, step: int, values: dict[str, float]) -> None:
        self._each("losses", step, values)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        numbers = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numbers:
            self._each("metrics", step, numbers)

    def image(self, step: int, tag: str, array) -> None:
        self._each("image", step, tag, array)

    def close(self) -> None:
        self._each("close")
        self.active = []


def failure_line(logger: Logger, method: str, exc: Exception) -> str:
    """One line: which logger, what failed, and the fix when its package is missing."""
    if isinstance(exc, ImportError):
        package = getattr(exc, "name", None) or str(exc)
        fix = f"pip install 'bench[{logger.extra}]'" if logger.extra else f"pip install {package}"
        return (f"warning: logger '{logger.name}' is off: its package {package} is not installed ({fix}); "
                f"the run goes on without it")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"warning: logger '{logger.name}' is off: {method} failed: {text[:200]}; the run goes on without it"
