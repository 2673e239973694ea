"""Endpoint spec parsing: every accepted form, every error, and property tests."""

from __future__ import annotations

import string
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bidi_tui.endpoints import (
    GOOD_EXAMPLE,
    MAX_RANGE_EXPANSION,
    DuplicateNameError,
    Endpoint,
    SpecError,
    mask_spec,
    parse_spec,
    parse_specs,
)

# --- accepted forms -----------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What one spec should parse to (a single endpoint)."""

    url: str
    name: str
    host: str
    port: int | None
    scheme: str = "ws"
    path: str = "/session"
    query: str = ""
    username: str | None = None
    password: str | None = None


ACCEPTED: list[tuple[str, Parsed]] = [
    ("127.0.0.1:9222", Parsed("ws://127.0.0.1:9222/session", "127.0.0.1:9222", "127.0.0.1", 9222)),
    ("localhost:9515", Parsed("ws://localhost:9515/session", "localhost:9515", "localhost", 9515)),
    (
        "farm-1.example.com:1",
        Parsed(
            "ws://farm-1.example.com:1/session", "farm-1.example.com:1", "farm-1.example.com", 1
        ),
    ),
    ("h:65535", Parsed("ws://h:65535/session", "h:65535", "h", 65535)),
    ("  h:9222\t", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("h:09222", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("ws://h:9515/session", Parsed("ws://h:9515/session", "h:9515", "h", 9515)),
    ("WS://h:9515/session", Parsed("ws://h:9515/session", "h:9515", "h", 9515)),
    ("ws://h:9222", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("ws://h/session", Parsed("ws://h/session", "h:80", "h", None)),
    ("wss://h/session", Parsed("wss://h/session", "h:443", "h", None, scheme="wss")),
    (
        "wss://grid.example:4444/bidi/abc?token=x&y=1",
        Parsed(
            "wss://grid.example:4444/bidi/abc?token=x&y=1",
            "grid.example:4444",
            "grid.example",
            4444,
            scheme="wss",
            path="/bidi/abc",
            query="token=x&y=1",
        ),
    ),
    ("ws://h:1/", Parsed("ws://h:1/", "h:1", "h", 1, path="/")),
    (
        "ws://h:1/session/abc-123",
        Parsed("ws://h:1/session/abc-123", "h:1", "h", 1, path="/session/abc-123"),
    ),
    ("ws://h:1?x=1", Parsed("ws://h:1/session?x=1", "h:1", "h", 1, query="x=1")),
    ("ws://h:1/s?a=b=c", Parsed("ws://h:1/s?a=b=c", "h:1", "h", 1, path="/s", query="a=b=c")),
    ("h:9222/custom", Parsed("ws://h:9222/custom", "h:9222", "h", 9222, path="/custom")),
    ("h:9222?q=1", Parsed("ws://h:9222/session?q=1", "h:9222", "h", 9222, query="q=1")),
    ("http://h:9222", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("http://h:9222/", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("HTTP://h:9222/", Parsed("ws://h:9222/session", "h:9222", "h", 9222)),
    ("http://h:9222/wd/hub", Parsed("ws://h:9222/wd/hub", "h:9222", "h", 9222, path="/wd/hub")),
    ("https://h:9222", Parsed("wss://h:9222/session", "h:9222", "h", 9222, scheme="wss")),
    ("https://h", Parsed("wss://h/session", "h:443", "h", None, scheme="wss")),
    ("[::1]:9222", Parsed("ws://[::1]:9222/session", "[::1]:9222", "::1", 9222)),
    ("ws://[::1]:9222/session", Parsed("ws://[::1]:9222/session", "[::1]:9222", "::1", 9222)),
    (
        "ws://[2001:db8::7]/s",
        Parsed("ws://[2001:db8::7]/s", "[2001:db8::7]:80", "2001:db8::7", None, path="/s"),
    ),
    (
        "[fe80::1%eth0]:9222",
        Parsed("ws://[fe80::1%eth0]:9222/session", "[fe80::1%eth0]:9222", "fe80::1%eth0", 9222),
    ),
    ("ff-1=127.0.0.1:9222", Parsed("ws://127.0.0.1:9222/session", "ff-1", "127.0.0.1", 9222)),
    ("a.b_c=ws://h:1/x", Parsed("ws://h:1/x", "a.b_c", "h", 1, path="/x")),
    ("cd=http://h:9515", Parsed("ws://h:9515/session", "cd", "h", 9515)),
    (
        "ws://user:password@h:9515/session",
        Parsed(
            "ws://user:password@h:9515/session",
            "h:9515",
            "h",
            9515,
            username="user",
            password="password",
        ),
    ),
    (
        "ws://user:pa%40ss@h:1/session",
        Parsed("ws://user:pa%40ss@h:1/session", "h:1", "h", 1, username="user", password="pa@ss"),
    ),
    (
        "ws://us%3Aer:p:w@h:1",
        Parsed("ws://us%3Aer:p%3Aw@h:1/session", "h:1", "h", 1, username="us:er", password="p:w"),
    ),
    (
        "ws://user:@h:1",
        Parsed("ws://user:@h:1/session", "h:1", "h", 1, username="user", password=""),
    ),
    (
        "user:pw@h:9222",
        Parsed("ws://user:pw@h:9222/session", "h:9222", "h", 9222, username="user", password="pw"),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), ACCEPTED, ids=[spec for spec, _ in ACCEPTED])
def test_accepted_forms(spec: str, expected: Parsed) -> None:
    (endpoint,) = parse_spec(spec)
    assert endpoint.url == expected.url
    assert endpoint.name == expected.name
    assert endpoint.scheme == expected.scheme
    assert endpoint.host == expected.host
    assert endpoint.port == expected.port
    assert endpoint.path == expected.path
    assert endpoint.query == expected.query
    assert endpoint.username == expected.username
    assert endpoint.password == expected.password
    assert endpoint.secure is (expected.scheme == "wss")


def test_display_url_masks_the_password() -> None:
    (endpoint,) = parse_spec("ws://user:s3cret@h:1/session")
    assert endpoint.display_url == "ws://user:***@h:1/session"
    assert endpoint.url == "ws://user:s3cret@h:1/session"
    assert endpoint.has_secrets


def test_options_are_carried_to_every_endpoint() -> None:
    endpoints = parse_spec(
        "h:1-2",
        headers={"X-Token": "t"},
        timeout=2.5,
        interval=10.0,
        tags=("ff", "linux"),
        enabled=False,
        insecure=True,
    )
    assert len(endpoints) == 2
    for endpoint in endpoints:
        assert endpoint.headers == {"X-Token": "t"}
        assert endpoint.timeout == 2.5
        assert endpoint.interval == 10.0
        assert endpoint.tags == ("ff", "linux")
        assert endpoint.enabled is False
        assert endpoint.insecure is True
        assert endpoint.has_secrets  # a header may hold a token


def test_headers_are_copied() -> None:
    headers = {"X-Token": "t"}
    (endpoint,) = parse_spec("h:1", headers=headers)
    headers["X-Token"] = "changed"
    assert endpoint.headers == {"X-Token": "t"}


# --- port ranges --------------------------------------------------------------------


def test_port_range_without_name_derives_names() -> None:
    endpoints = parse_spec("h:9222-9231")
    assert [e.port for e in endpoints] == list(range(9222, 9232))
    assert [e.name for e in endpoints] == [f"h:{port}" for port in range(9222, 9232)]
    assert {e.path for e in endpoints} == {"/session"}


def test_port_range_with_name_numbers_from_one() -> None:
    endpoints = parse_spec("ff=ws://[::1]:9222-9224/session?x=1")
    assert [e.name for e in endpoints] == ["ff-1", "ff-2", "ff-3"]
    assert [e.url for e in endpoints] == [
        f"ws://[::1]:{port}/session?x=1" for port in (9222, 9223, 9224)
    ]


def test_port_range_with_name_argument() -> None:
    endpoints = parse_spec("h:1-3", name="cd")
    assert [e.name for e in endpoints] == ["cd-1", "cd-2", "cd-3"]


def test_single_port_range_keeps_the_plain_name() -> None:
    assert [e.name for e in parse_spec("ff=h:5-5")] == ["ff"]
    assert [e.name for e in parse_spec("h:5", name="x")] == ["x"]


def test_port_range_cap() -> None:
    endpoints = parse_spec(f"h:1-{MAX_RANGE_EXPANSION}")
    assert len(endpoints) == MAX_RANGE_EXPANSION == 4096
    assert endpoints[-1].port == 4096
    assert len(parse_spec("h:61440-65535")) == 4096
    with pytest.raises(SpecError, match="4097 endpoints"):
        parse_spec(f"h:1-{MAX_RANGE_EXPANSION + 1}")


def test_parse_specs_requires_unique_names() -> None:
    assert [e.name for e in parse_specs(["a=h:1", "b=h:1"])] == ["a", "b"]
    with pytest.raises(DuplicateNameError, match="'h:1'"):
        parse_specs(["h:1", "ws://h:1/other"])
    with pytest.raises(DuplicateNameError, match="'ff-2'"):
        parse_specs(["ff=h:1-3", "ff-2=h:9"])


# --- errors -------------------------------------------------------------------------

REJECTED: list[tuple[str, str]] = [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("h", "no port given"),
    ("ff=h", "no port given"),
    ("h:", "the port after ':' is empty"),
    ("h:abc", "is not a number or a range"),
    ("h:1-", "is not a number or a range"),
    ("h:-5", "is not a number or a range"),
    ("h:0", "port 0 is out of range 1-65535"),
    ("h:65536", "port 65536 is out of range"),
    ("h:1-70000", "port 70000 is out of range"),
    ("h:9231-9222", "runs backwards; write 9222-9231"),
    ("h:1-5000", "more than the limit of 4096"),
    ("ftp://h:1", "scheme 'ftp' is not supported"),
    ("ws:/h:1", "needs '://'"),
    ("ws://h:1/x#top", "fragment"),
    ("::1:9222", "IPv6 addresses need brackets"),
    ("fe80::1", "IPv6 addresses need brackets"),
    ("h:1:2", "IPv6 addresses need brackets"),
    ("[::1:9222", "missing its closing ']'"),
    ("[zz::1]:9222", "'zz::1' is not a valid IPv6 address"),
    ("[::1]x:9222", "unexpected text"),
    ("ws://:1", "the host is missing"),
    ("ws://", "the host is missing"),
    ("ws://user@h:1", "needs a password"),
    ("ws://:pw@h:1", "the user name before ':' is empty"),
    ("ws://u:pw@:1", "the host is missing"),
    ("bad!host:1", "'bad!host' is not a valid host name"),
    ("-h:1", "'-h' is not a valid host name"),
    ("ws://" + "a" * 254 + ":1", "is not a valid host name"),
    ("h:1 x", "character ' '"),
    ("ws://h:1/<x>", "character '<'"),
    ("h\x7f:1", "character '\\x7f'"),
    ("hé:1", "non-ASCII"),
]


@pytest.mark.parametrize(("spec", "problem"), REJECTED, ids=[repr(s) for s, _ in REJECTED])
def test_rejected_specs(spec: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    assert problem in caught.value.problem
    assert problem in message
    assert repr(mask_spec(spec)) in message  # the spec as given, quoted, password masked
    assert "pw" not in message
    assert GOOD_EXAMPLE in message
    assert caught.value.spec == spec
    assert "\n" not in message


def test_name_errors() -> None:
    with pytest.raises(SpecError, match="given twice"):
        parse_spec("a=h:1", name="b")
    with pytest.raises(SpecError, match="may hold only letters"):
        parse_spec("h:1", name="bad name")
    with pytest.raises(SpecError, match="must be a string"):
        parse_spec(9222)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec",
    [
        "ws://admin:s3cretpw@h:0/session",
        "ws://admin:s3cretpw@h:1/x#frag",
        "ftp://admin:s3cretpw@h:1",
        "wss://admin:s3cretpw@bad!host:1",
        "ff=ws://admin:s3cretpw@h:1/a b",
        "ws://:s3cretpw@h:1",
    ],
)
def test_error_masks_the_password(spec: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    assert "s3cretpw" not in message
    assert mask_spec(spec) in message
    assert ":***@" in message
    assert GOOD_EXAMPLE in message


# --- found by these tests and fixed -----------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "admin:s3cretpw@h",
        "ff=admin:s3cretpw@h:0",
        "ws://admin:s3cret pw@h:1",
        "ws://admin:s3c@retpw@h:0",
    ],
)
def test_error_masks_the_password_in_every_form(spec: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    for part in ("s3cret", "retpw"):
        assert part not in message


@pytest.mark.parametrize(
    "spec", ["h:" + "9" * 5000, "h:1-" + "9" * 5000], ids=["port", "range-end"]
)
def test_huge_port_number_is_a_spec_error(spec: str) -> None:
    with pytest.raises(SpecError, match="out of range"):
        parse_spec(spec)


@pytest.mark.parametrize(("spec", "name"), [("a\n=h:1", None), ("h:1", "x\n")])
def test_name_with_trailing_newline_is_rejected(spec: str, name: str | None) -> None:
    with pytest.raises(SpecError):
        parse_spec(spec, name=name)


# --- property tests -----------------------------------------------------------------

_URLISH = st.lists(
    st.sampled_from(
        [
            "ws://",
            "wss://",
            "http://",
            "https://",
            "ftp://",
            "ws:/",
            "ff=",
            "a.b-c=",
            "=",
            "h",
            "example.com",
            "127.0.0.1",
            "[",
            "]",
            "::1",
            "fe80::1%eth0",
            ":",
            "9222",
            "-",
            "0",
            "65536",
            "99999999",
            "@",
            "user",
            "pa%40ss",
            "%zz",
            "/",
            "/session",
            "?",
            "q=1",
            "#",
            " ",
            "\n",
            "é",
            "_",
            ".",
            "\x00",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(spec=st.text() | _URLISH, name=st.none() | st.text(max_size=5))
def test_parse_spec_returns_endpoints_or_raises_spec_error(spec: str, name: str | None) -> None:
    try:
        endpoints = parse_spec(spec, name=name)
    except SpecError as exc:
        assert exc.spec == spec
        assert GOOD_EXAMPLE in str(exc)
        return
    assert 1 <= len(endpoints) <= MAX_RANGE_EXPANSION
    for endpoint in endpoints:
        assert isinstance(endpoint, Endpoint)
        assert endpoint.scheme in ("ws", "wss")
        assert endpoint.path.startswith("/")
        assert endpoint.port is None or 1 <= endpoint.port <= 65535
        assert endpoint.url.isascii()
    assert len({e.name for e in endpoints}) == len(endpoints)


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,10}[a-z0-9])?", fullmatch=True)
_HOSTNAME = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_HOST = (
    _HOSTNAME | st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str) | st.just("localhost")
)
_PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
_PATH = st.lists(st.text(_PATH_CHARS, max_size=8), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
_QUERY = st.text(_PATH_CHARS + "/?", max_size=16)
# The marker appears only in passwords, so a leak cannot be a coincidence with another part.
_MARKER = "§"
_USERNAME = st.text(min_size=1, max_size=10).filter(lambda text: _MARKER not in text)
_PASSWORD = st.builds(lambda a, b: a + _MARKER + b, st.text(max_size=8), st.text(max_size=8))


@st.composite
def endpoints(draw: st.DrawFn, *, with_password: bool = False) -> Endpoint:
    username = draw(_USERNAME) if with_password else draw(st.none() | _USERNAME)
    password = draw(_PASSWORD) if username is not None else None
    return Endpoint(
        name="generated",
        scheme=draw(st.sampled_from(["ws", "wss"])),
        host=draw(_HOST),
        port=draw(st.none() | st.integers(min_value=1, max_value=65535)),
        path=draw(_PATH),
        query=draw(_QUERY),
        username=username,
        password=password,
    )


@settings(max_examples=300, deadline=None)
@given(endpoint=endpoints())
def test_url_round_trips(endpoint: Endpoint) -> None:
    (parsed,) = parse_spec(endpoint.url)
    assert parsed.url == endpoint.url
    assert parsed.display_url == endpoint.display_url
    assert parsed.scheme == endpoint.scheme
    assert parsed.host == endpoint.host
    assert parsed.port == endpoint.port
    assert parsed.path == endpoint.path
    assert parsed.query == endpoint.query
    assert parsed.username == endpoint.username
    assert parsed.password == endpoint.password
    (named,) = parse_spec(f"my-ep={endpoint.url}")
    assert named.name == "my-ep"
    assert named.url == endpoint.url


def _secret_forms(password: str) -> list[str]:
    return [password, quote(password, safe=""), quote(password)]


@settings(max_examples=200, deadline=None)
@given(endpoint=endpoints(with_password=True))
def test_password_never_in_display_url(endpoint: Endpoint) -> None:
    assert endpoint.password is not None
    shown = endpoint.display_url
    for secret in _secret_forms(endpoint.password):
        assert secret not in shown
    assert ":***@" in shown
    assert quote(endpoint.password, safe="") in endpoint.url


@settings(max_examples=200, deadline=None)
@given(
    endpoint=endpoints(with_password=True),
    breakage=st.sampled_from(["port0", "bigport", "scheme", "fragment", "space", "host", "range"]),
)
def test_password_never_in_spec_error(endpoint: Endpoint, breakage: str) -> None:
    assert endpoint.username is not None and endpoint.password is not None
    userinfo = f"{quote(endpoint.username, safe='')}:{quote(endpoint.password, safe='')}@"
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    port = "" if endpoint.port is None else f":{endpoint.port}"
    tail = endpoint.path + (f"?{endpoint.query}" if endpoint.query else "")
    spec = {
        "port0": f"ws://{userinfo}{host}:0{tail}",
        "bigport": f"wss://{userinfo}{host}:70000{tail}",
        "scheme": f"ftp://{userinfo}{host}{port}{tail}",
        "fragment": f"ws://{userinfo}{host}{port}{tail}#frag",
        "space": f"ws://{userinfo}{host}{port}{tail} x",
        "host": f"ws://{userinfo}bad!host{port}{tail}",
        "range": f"ws://{userinfo}{host}:9-1{tail}",
    }[breakage]
    assume(spec.startswith(("ws://", "wss://", "ftp://")))
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    for secret in _secret_forms(endpoint.password):
        assert secret not in message
    assert _MARKER not in message
