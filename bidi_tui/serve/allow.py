"""Which targets ``/probe`` may check, and with what deadline.

``/probe`` is never an open proxy: a target is checked only when it is a configured
endpoint (by name, or by its normalized URL: then with that endpoint's credentials,
headers and TLS setting) or when its host and port match a ``--probe-allow`` pattern.
Patterns are matched against what the target says, never against what its name resolves
to: a CIDR matches only IP addresses written as such, a host glob only host names, so a
DNS answer cannot turn an allowed name into a disallowed address after the decision.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bidi_tui.endpoints import Endpoint, SpecError, mask_spec, parse_spec
from bidi_tui.settings import MAX_TIMEOUT, MIN_TIMEOUT

# blackbox_exporter's rule: answer this long before Prometheus gives up on the scrape.
SCRAPE_TIMEOUT_OFFSET = 0.5
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
MAX_SHOWN_TARGET = 120
_DEFAULT_PORTS = {"ws": 80, "wss": 443}
_PORTS_RE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?\Z")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PatternError(ValueError):
    """A ``--probe-allow`` pattern that cannot be used; ``str()`` is one line."""


class ProbeRefused(Exception):
    """A target ``/probe`` will not check (HTTP 403); ``str()`` is the one-line reason."""


class BadProbeRequest(Exception):
    """A malformed ``/probe`` request (HTTP 400); ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class AllowPattern:
    """One ``--probe-allow`` pattern: a host glob or a network, and optionally ports."""

    text: str
    network: Network | None
    glob: str | None
    ports: tuple[int, int] | None  # inclusive range; None: any port

    def matches(self, host: str, port: int) -> bool:
        if self.ports is not None and not self.ports[0] <= port <= self.ports[1]:
            return False
        address = _ip(host)
        if self.network is not None:
            return address is not None and address in self.network
        assert self.glob is not None
        return address is None and fnmatch.fnmatchcase(_host_key(host), self.glob)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


def _ports(pattern: str, text: str) -> tuple[int, int]:
    match = _PORTS_RE.match(text)
    if match is None:
        raise PatternError(f"--probe-allow {pattern!r}: port {text!r} is not a port or a range")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 1 <= low <= high <= 65535:
        raise PatternError(f"--probe-allow {pattern!r}: ports must be 1-65535, low to high")
    return low, high


def parse_pattern(pattern: str) -> AllowPattern:
    """``HOSTGLOB[:PORTS]``, ``CIDR[:PORTS]``, ``ADDRESS[:PORTS]``; IPv6 in brackets when a
    port follows: ``[fd00::/8]:9222``. PORTS is a port or a range ``9222-9231``."""
    text = pattern.strip()
    if not text:
        raise PatternError(
            "--probe-allow needs a pattern, e.g. '*.farm.example:9222' or 10.0.0.0/8"
        )
    ports: tuple[int, int] | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise PatternError(f"--probe-allow {pattern!r}: write IPv6 as [ADDRESS]:PORT")
        if rest:
            ports = _ports(pattern, rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        ports = _ports(pattern, port_text)
    else:
        host = text
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    if network is not None:
        if network.prefixlen == 0:
            raise PatternError(
                f"--probe-allow {pattern!r} allows every address: /probe would be an open "
                "proxy; name the networks of your farm"
            )
        return AllowPattern(text, network, None, ports)
    glob = _host_key(host)
    if not glob or not re.fullmatch(r"[a-z0-9_.*?\-]+", glob):
        raise PatternError(
            f"--probe-allow {pattern!r}: not a host glob ('*.farm.example'), an address or "
            "a network (10.1.0.0/16)"
        )
    if not glob.strip("*.?"):
        raise PatternError(
            f"--probe-allow {pattern!r} allows every host: /probe would be an open proxy; "
            "name the hosts of your farm, e.g. '*.farm.example'"
        )
    return AllowPattern(text, None, glob, ports)


def parse_patterns(patterns: Iterable[str]) -> tuple[AllowPattern, ...]:
    return tuple(parse_pattern(pattern) for pattern in patterns)


def _shown(target: str) -> str:
    """The target for a one-line reason: password masked, escaped, cut short."""
    shown = ascii(mask_spec(target))
    return shown if len(shown) <= MAX_SHOWN_TARGET else shown[: MAX_SHOWN_TARGET - 1] + "…"


def _url_key(endpoint: Endpoint) -> tuple[str, str, int, str, str]:
    port = endpoint.port if endpoint.port is not None else _DEFAULT_PORTS[endpoint.scheme]
    return endpoint.scheme, _host_key(endpoint.host), port, endpoint.path, endpoint.query


def _looks_like_short_ipv4(host: str) -> bool:
    """``127.1``, ``2130706433``, ``0x7f.1``: the resolver reads these as IPv4 addresses."""
    if _ip(host) is not None:
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


class ProbeTargets:
    """Decides what ``/probe?target=…`` checks, from the endpoints watched right now.

    ``endpoints`` is a live view by name; call :meth:`endpoints_changed` when it changes.
    """

    def __init__(
        self, endpoints: Mapping[str, Endpoint], patterns: Iterable[AllowPattern] = ()
    ) -> None:
        self._endpoints = endpoints
        self.patterns = tuple(patterns)
        self._index: dict[tuple[str, str, int, str, str], Endpoint] | None = None

    def endpoints_changed(self) -> None:
        self._index = None

    def _by_url(self) -> dict[tuple[str, str, int, str, str], Endpoint]:
        if self._index is None:
            index: dict[tuple[str, str, int, str, str], Endpoint] = {}
            for endpoint in self._endpoints.values():
                index.setdefault(_url_key(endpoint), endpoint)
            self._index = index
        return self._index

    def resolve(self, target: str) -> Endpoint:
        """The endpoint to check for ``target``, or :class:`ProbeRefused` saying why not."""
        configured = self._endpoints.get(target)
        if configured is not None:
            return configured
        try:
            parsed = parse_spec(target)
        except SpecError as exc:
            problem = exc.problem if len(exc.problem) <= MAX_SHOWN_TARGET else "malformed"
            raise ProbeRefused(
                f"target {_shown(target)} is neither a configured endpoint's name nor a "
                f"valid endpoint: {problem}"
            ) from None
        if len(parsed) != 1:
            raise ProbeRefused(f"target {_shown(target)} is a port range: probe one port")
        (endpoint,) = parsed
        if endpoint.username is not None:
            raise ProbeRefused(
                f"target {_shown(target)} carries credentials: configure the endpoint and "
                "probe it by name, so no password is written in Prometheus's config"
            )
        known = self._by_url().get(_url_key(endpoint))
        if known is not None:
            return known
        if _looks_like_short_ipv4(endpoint.host):
            raise ProbeRefused(f"target {_shown(target)}: write the IPv4 address in full (a.b.c.d)")
        port = endpoint.port if endpoint.port is not None else _DEFAULT_PORTS[endpoint.scheme]
        if any(pattern.matches(endpoint.host, port) for pattern in self.patterns):
            return endpoint
        allowed = (
            "no --probe-allow pattern matches it"
            if self.patterns
            else "serve was started without --probe-allow"
        )
        raise ProbeRefused(
            f"target {_shown(target)} is not allowed: not a configured endpoint and {allowed}"
        )


def _seconds(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadProbeRequest(f"{what} {text[:40]!a} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise BadProbeRequest(f"{what} must be a positive number of seconds, got {value:g}")
    return value


def probe_deadline(scrape_timeout: str | None, timeout: str | None, default: float) -> float:
    """The check's deadline for one ``/probe`` request.

    The ``X-Prometheus-Scrape-Timeout-Seconds`` header minus 0.5 s when present (the
    blackbox_exporter's rule, so the answer arrives before Prometheus gives up), no longer
    than a ``timeout`` parameter if one is given; else ``timeout``; else ``default`` (the
    endpoint's configured timeout, or the built-in one).
    """
    asked = None if timeout is None else _seconds(timeout, "timeout")
    if scrape_timeout is not None:
        limit = _seconds(scrape_timeout, SCRAPE_TIMEOUT_HEADER) - SCRAPE_TIMEOUT_OFFSET
        deadline = limit if asked is None else min(limit, asked)
    else:
        deadline = default if asked is None else asked
    return min(max(deadline, MIN_TIMEOUT), MAX_TIMEOUT)
