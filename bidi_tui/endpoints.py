"""Endpoint specs: one parser for the CLI, the config file and the dashboard's add dialog.

Accepted forms (see :func:`parse_spec`)::

    ws://HOST:PORT/session        wss://HOST:PORT/path?query
    HOST:PORT                     http(s)://HOST:PORT      -> ws(s)://HOST:PORT/session
    [::1]:9222                    HOST:9222-9231           -> one endpoint per port
    NAME=SPEC                     ws://user:password@HOST:PORT/session
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

MAX_RANGE_EXPANSION = 4096
DEFAULT_PATH = "/session"
MASK = "***"
GOOD_EXAMPLE = "ff-1=127.0.0.1:9222 or ws://127.0.0.1:9515/session"

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_HOSTNAME_RE = re.compile(
    r"^[A-Za-z0-9_]([A-Za-z0-9_\-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_\-]*[A-Za-z0-9_])?)*\.?\Z"
)
_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_DEFAULT_PORTS = {"ws": 80, "wss": 443}
_FORBIDDEN_CHARS = set(' \t\r\n"<>\\^`{|}')
_FORBIDDEN_RE = re.compile(r"[\x00-\x1f\x7f" + re.escape("".join(sorted(_FORBIDDEN_CHARS))) + "]")


class SpecError(ValueError):
    """A spec that is not a valid endpoint. ``str()`` is one line for the user."""

    def __init__(self, spec: str, problem: str) -> None:
        self.spec = spec
        self.problem = mask_problem(spec, problem)
        super().__init__(
            f"bad endpoint {mask_spec(spec)!r}: {self.problem}; good ones look like {GOOD_EXAMPLE}"
        )


@dataclass(frozen=True)
class Endpoint:
    """A BiDi endpoint to check. ``url`` may hold credentials: show ``display_url``."""

    name: str
    scheme: str
    host: str
    port: int | None
    path: str = DEFAULT_PATH
    query: str = ""
    username: str | None = None
    password: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    interval: float | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    insecure: bool = False
    # Where secrets came from when not written in the file: the environment variable
    # holding ``password``, and per header name the one holding that header's value.
    # Saving writes these names back, never the values.
    password_env: str | None = None
    header_env: Mapping[str, str] = field(default_factory=dict)
    # Commands run when its state changes (the config's per-endpoint ``on_change``);
    # None: the ``[defaults]`` ones.
    on_change: tuple[str, ...] | None = None

    def __hash__(self) -> int:
        return hash((self.name, self.url))

    @property
    def key(self) -> str:
        """Stable id of the endpoint (names are unique in a list)."""
        return self.name

    @property
    def secure(self) -> bool:
        return self.scheme == "wss"

    def _build(self, *, mask: bool, password: bool = True) -> str:
        userinfo = ""
        if self.username is not None:
            userinfo = quote(self.username, safe="")
            if self.password is not None and password:
                userinfo += ":" + (MASK if mask else quote(self.password, safe=""))
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{userinfo}{host}{port}{self.path}{query}"

    @property
    def url(self) -> str:
        """The full URL, credentials included: for connecting, never for display."""
        return self._build(mask=False)

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***``."""
        return self._build(mask=True)

    @property
    def stored_url(self) -> str:
        """The URL as a config file holds it: without the password when that comes from
        an environment variable (``password_env``)."""
        return self._build(mask=False, password=self.password_env is None)

    @property
    def derived_name(self) -> str:
        """The name it gets when none is given: ``host:port``."""
        return derive_name(
            self.host, self.port if self.port is not None else _DEFAULT_PORTS[self.scheme]
        )

    @property
    def has_secrets(self) -> bool:
        return self.password is not None or bool(self.headers)

    def with_name(self, name: str) -> Endpoint:
        return replace(self, name=name)


def _password_span(spec: str) -> tuple[int, int] | None:
    """Where a password may sit in a raw, possibly malformed, spec.

    From the first ':' that does not start a scheme separator (``://`` or a ``:/`` typo)
    up to the last '@'. A spec with an '@' in its path may be over-masked; a password is
    never missed.
    """
    at = spec.rfind("@")
    start = 0
    while at >= 0 and (colon := spec.find(":", start, at)) >= 0:
        if spec.startswith("/", colon + 1):
            start = colon + 1
            continue
        return colon + 1, at
    return None


def mask_spec(spec: str) -> str:
    """Hide a password in a raw spec so errors never print it."""
    span = _password_span(spec)
    return spec if span is None else spec[: span[0]] + MASK + spec[span[1] :]


def mask_problem(spec: str, problem: str) -> str:
    """Hide the password's pieces in a problem text that quotes part of the spec."""
    span = _password_span(spec)
    if span is None:
        return problem
    for piece in re.split(r"[/?#@:]", spec[span[0] : span[1]]):
        if piece:
            # Whole tokens only, so a one-letter password does not eat letters of words.
            problem = re.sub(rf"(?<![A-Za-z0-9]){re.escape(piece)}(?![A-Za-z0-9])", MASK, problem)
    return problem


def derive_name(host: str, port: int | None) -> str:
    host_part = f"[{host}]" if ":" in host else host
    return f"{host_part}:{port}" if port is not None else host_part


def _split_name(spec: str) -> tuple[str | None, str]:
    # A name cannot hold ':' or '/', so an '=' inside a URL's query is never taken for one.
    head, sep, tail = spec.partition("=")
    if sep and _NAME_RE.match(head):
        return head, tail
    return None, spec


def _parse_host(spec: str, hostport: str) -> tuple[str, str]:
    """Split ``host[:port]`` into host and the raw port text ('' when absent)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SpecError(spec, "IPv6 address is missing its closing ']'")
        host = hostport[1:end]
        rest = hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise SpecError(spec, f"'{host}' is not a valid IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise SpecError(spec, f"unexpected text {rest!r} after the IPv6 address")
        return host, rest[1:]
    if hostport.count(":") > 1:
        raise SpecError(spec, "IPv6 addresses need brackets, e.g. [::1]:9222")
    host, _, port = hostport.partition(":")
    if not host:
        raise SpecError(spec, "the host is missing")
    if not _HOSTNAME_RE.match(host) or len(host) > 253:
        raise SpecError(spec, f"'{host}' is not a valid host name or IP address")
    if ":" in hostport and not port:
        raise SpecError(spec, "the port after ':' is empty")
    return host, port


def _parse_ports(spec: str, text: str) -> list[int]:
    start_text, dash, end_text = text.partition("-")
    for part in (start_text, end_text) if dash else (start_text,):
        if not part.isdigit() or not part.isascii():
            raise SpecError(spec, f"port {text!r} is not a number or a range like 9222-9231")
        if len(part.lstrip("0")) > 5:
            raise SpecError(spec, f"port {part} is out of range 1-65535")
    start = int(start_text)
    end = int(end_text) if dash else start
    for port in (start, end):
        if not 1 <= port <= 65535:
            raise SpecError(spec, f"port {port} is out of range 1-65535")
    if end < start:
        raise SpecError(spec, f"port range {text} runs backwards; write {end}-{start}")
    if end - start + 1 > MAX_RANGE_EXPANSION:
        raise SpecError(
            spec,
            f"port range {text} expands to {end - start + 1} endpoints, "
            f"more than the limit of {MAX_RANGE_EXPANSION}; split it",
        )
    return list(range(start, end + 1))


def parse_spec(
    spec: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    interval: float | None = None,
    tags: tuple[str, ...] = (),
    enabled: bool = True,
    insecure: bool = False,
    name: str | None = None,
    password: str | None = None,
    first_number: int = 1,
) -> list[Endpoint]:
    """Parse one spec into endpoints (several for a port range). Raises :class:`SpecError`.

    ``password`` completes a spec written ``user@host`` (the config's ``password_env``).
    A named range's endpoints are NAME-N, N counting from ``first_number``.
    """
    if not isinstance(spec, str):
        raise SpecError(repr(spec), "an endpoint must be a string")
    original = spec
    spec = spec.strip()
    if not spec:
        raise SpecError(original, "it is empty")
    given_name, rest = _split_name(spec)
    if given_name is not None and name is not None:
        raise SpecError(original, "the name is given twice (NAME= and a separate name)")
    name = name if name is not None else given_name
    if name is not None and not _NAME_RE.match(name):
        raise SpecError(original, f"name {name!r} may hold only letters, digits, '_', '.' and '-'")
    if _FORBIDDEN_RE.search(rest):
        bad = sorted({c for c in rest if c in _FORBIDDEN_CHARS or ord(c) < 32 or ord(c) == 127})
        raise SpecError(original, f"it contains the character {bad[0]!r}")
    if not rest.isascii():
        raise SpecError(original, "non-ASCII characters are not allowed; use punycode or an IP")

    scheme_text, sep, remainder = rest.partition("://")
    if sep:
        scheme_lower = scheme_text.lower()
        if scheme_lower not in _SCHEMES:
            raise SpecError(
                original,
                f"scheme '{scheme_text}' is not supported; use ws://, wss:// or http(s)://",
            )
        scheme = _SCHEMES[scheme_lower]
        from_http = scheme_lower.startswith("http")
        explicit_url = True
    else:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:/", rest):
            raise SpecError(original, "a URL needs '://' after its scheme, e.g. ws://HOST:PORT")
        scheme, remainder, from_http, explicit_url = "ws", rest, False, False

    if "#" in remainder:
        raise SpecError(original, "a fragment ('#...') is not allowed in a WebSocket URL")
    authority_end = len(remainder)
    for sep_char in "/?":
        idx = remainder.find(sep_char)
        if idx >= 0:
            authority_end = min(authority_end, idx)
    authority = remainder[:authority_end]
    path_and_query = remainder[authority_end:]
    path, _, query = path_and_query.partition("?")

    username: str | None = None
    given_password, password = password, None
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user_raw, colon, pass_raw = userinfo.partition(":")
        if colon and given_password is not None:
            raise SpecError(original, "the password is given twice: in the URL and separately")
        if not colon and given_password is None:
            raise SpecError(
                original,
                (
                    "a user name needs a password too: user:password@host "
                    "(or user@host with password_env in the config file)"
                ),
            )
        username = unquote(user_raw)
        password = unquote(pass_raw) if colon else given_password
        if not username:
            raise SpecError(original, "the user name before ':' is empty")
    else:
        if given_password is not None:
            raise SpecError(original, "a password needs a user name in the URL: user@host")
        hostport = authority
    if not hostport:
        raise SpecError(original, "the host is missing")
    if username is not None and any(h.lower() == "authorization" for h in headers or {}):
        raise SpecError(
            original,
            "it has user:password@ and an Authorization header too; keep only one of them",
        )
    host, port_text = _parse_host(original, hostport)

    if port_text:
        ports: list[int | None] = list(_parse_ports(original, port_text))
    elif explicit_url:
        ports = [None]
    else:
        raise SpecError(original, f"no port given; BiDi has no standard port, e.g. {host}:9222")

    if not path or (from_http and path == "/"):
        path = DEFAULT_PATH
    if not path.startswith("/"):
        raise SpecError(original, "the path must start with '/'")

    headers, tags = dict(headers or {}), tuple(tags)
    endpoints: list[Endpoint] = []
    for index, port in enumerate(ports, start=1):
        if name is None:
            endpoint_name = derive_name(host, port if port is not None else _DEFAULT_PORTS[scheme])
        elif len(ports) > 1:
            endpoint_name = f"{name}-{index + first_number - 1}"
        else:
            endpoint_name = name
        # Built at once: dataclasses.replace() on a base took 0.6 s for 50,000.
        endpoints.append(
            Endpoint(
                name=endpoint_name,
                scheme=scheme,
                host=host,
                port=port,
                path=path,
                query=query,
                username=username,
                password=password,
                headers=headers,
                timeout=timeout,
                interval=interval,
                tags=tags,
                enabled=enabled,
                insecure=insecure,
            )
        )
    return endpoints


def parse_specs(specs: list[str]) -> list[Endpoint]:
    """Parse several specs; names must end up unique."""
    endpoints: list[Endpoint] = []
    for spec in specs:
        endpoints.extend(parse_spec(spec))
    check_unique_names(endpoints)
    return endpoints


class DuplicateNameError(ValueError):
    pass


def check_unique_names(endpoints: list[Endpoint]) -> None:
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name in seen:
            raise DuplicateNameError(
                f"two endpoints are named {endpoint.name!r}; give one a name with NAME=SPEC"
            )
        seen.add(endpoint.name)
