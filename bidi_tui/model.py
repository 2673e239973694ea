"""The results of checks, as every layer sees them: states, error kinds, phases, results.

Frozen dataclasses and enums only, so the probe, the engine, the views and the CLI pass
typed values, never dicts of loose strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bidi_tui.endpoints import Endpoint


class State(StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"
    ERROR = "error"


class ErrorKind(StrEnum):
    INVALID_URL = "invalid_url"
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    CLOSED = "closed"
    NOT_BIDI = "not_bidi"
    BIDI_ERROR = "bidi_error"
    PROTOCOL = "protocol"
    TOO_LARGE = "too_large"
    NETWORK = "network"


class Phase(StrEnum):
    CONNECT = "connect"
    HANDSHAKE = "handshake"
    RESPONSE = "response"


@dataclass(frozen=True)
class ProbeError:
    kind: ErrorKind
    detail: str
    hint: str | None = None
    phase: Phase | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "detail": self.detail, "hint": self.hint}


@dataclass(frozen=True)
class PhaseTimings:
    """Milliseconds spent in each phase; ``None`` for a phase that was not reached."""

    connect_ms: float | None = None
    handshake_ms: float | None = None
    response_ms: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one check of one endpoint."""

    endpoint: Endpoint
    state: State
    checked_at: datetime
    elapsed_ms: float
    ready: bool | None = None
    message: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    timings: PhaseTimings = field(default_factory=PhaseTimings)
    error: ProbeError | None = None
    raw: str | None = None

    @property
    def summary(self) -> str:
        """One line: the message, or the error's detail."""
        if self.error is not None:
            return self.error.detail
        return self.message or ""

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` shape: exactly these keys."""
        return {
            "name": self.endpoint.name,
            "url": self.endpoint.display_url,
            "state": self.state.value,
            "ready": self.ready,
            "message": self.message,
            "meta": dict(self.meta),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "checked_at": self.checked_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "error": None if self.error is None else self.error.to_json(),
        }
