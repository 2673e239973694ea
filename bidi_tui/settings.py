"""Where an endpoint's interval and timeout come from, resolved in one place.

The order is: the command line, then the endpoint's own value, then the config file's
``[defaults]``, then the built-in default. Every consumer (the dashboard's engine,
``check``, ``serve``) asks :class:`Settings`; nothing else combines these sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bidi_tui.endpoints import Endpoint

BUILT_IN_INTERVAL = 5.0
BUILT_IN_TIMEOUT = 5.0
MIN_INTERVAL = 0.1
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 300.0


class SettingError(ValueError):
    """A value out of range; ``str()`` says which range, for any input channel."""


def checked_interval(value: float, what: str = "interval") -> float:
    """``value`` when it is a usable interval, else :class:`SettingError`."""
    if math.isnan(value) or not MIN_INTERVAL <= value < math.inf:
        raise SettingError(f"{what} must be at least {MIN_INTERVAL:g} seconds, got {value:g}")
    return value


def checked_timeout(value: float, what: str = "timeout") -> float:
    """``value`` when it is a usable timeout, else :class:`SettingError`."""
    if math.isnan(value) or not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise SettingError(
            f"{what} must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, got {value:g}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    """The command line's values and the config's ``[defaults]``, merged once."""

    cli_interval: float | None = None
    cli_timeout: float | None = None
    default_interval: float = BUILT_IN_INTERVAL
    default_timeout: float = BUILT_IN_TIMEOUT
    reuse_connections: bool = False

    def interval(self, endpoint: Endpoint) -> float:
        if self.cli_interval is not None:
            return self.cli_interval
        if endpoint.interval is not None:
            return endpoint.interval
        return self.default_interval

    def timeout(self, endpoint: Endpoint) -> float:
        if self.cli_timeout is not None:
            return self.cli_timeout
        if endpoint.timeout is not None:
            return endpoint.timeout
        return self.default_timeout
