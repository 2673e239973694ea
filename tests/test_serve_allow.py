"""What /probe may check (never an open proxy) and the deadline it checks with."""

from __future__ import annotations

import pytest

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.serve.allow import (
    BadProbeRequest,
    PatternError,
    ProbeRefused,
    ProbeTargets,
    parse_patterns,
    probe_deadline,
)

SECRET = "hunter2-secret"


def configured() -> dict[str, Endpoint]:
    endpoints = [
        *parse_spec("ff-1=127.0.0.1:9222"),
        *parse_spec(f"grid=ws://farm:{SECRET}@127.0.0.1:4444/session/abc/se/bidi"),
        *parse_spec("tls=wss://bidi.farm.example/session", headers={"X-Key": SECRET}),
    ]
    return {endpoint.name: endpoint for endpoint in endpoints}


def targets(*patterns: str) -> ProbeTargets:
    return ProbeTargets(configured(), parse_patterns(patterns))


def refusal(probe_targets: ProbeTargets, target: str) -> str:
    with pytest.raises(ProbeRefused) as caught:
        probe_targets.resolve(target)
    reason = str(caught.value)
    assert "\n" not in reason
    return reason


def test_a_configured_endpoint_by_name_comes_with_its_credentials() -> None:
    endpoint = targets().resolve("grid")
    assert endpoint.password == SECRET  # the configured endpoint, not a copy without them
    assert targets().resolve("tls").headers == {"X-Key": SECRET}


@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:9222",
        "http://127.0.0.1:9222",
        "ws://127.0.0.1:9222/session",
        "WS://127.0.0.1:9222/session",
    ],
)
def test_a_configured_endpoint_by_its_normalized_url(target: str) -> None:
    assert targets().resolve(target).name == "ff-1"


def test_normalized_url_default_port_and_host_case() -> None:
    assert targets().resolve("wss://BIDI.farm.example:443/session").name == "tls"
    assert targets().resolve("ws://127.0.0.1:4444/session/abc/se/bidi").password == SECRET


def test_anything_else_is_refused_without_patterns() -> None:
    reason = refusal(targets(), "127.0.0.1:9223")
    assert "not allowed" in reason and "--probe-allow" in reason
    # Another path on a configured host and port is another endpoint.
    refusal(targets(), "ws://127.0.0.1:9222/other")


@pytest.mark.parametrize(
    ("pattern", "allowed", "refused"),
    [
        ("127.0.0.0/8", ["127.0.0.2:9222", "ws://127.9.9.9/session"], ["localhost:9222"]),
        ("127.0.0.1:9300-9310", ["127.0.0.1:9300", "127.0.0.1:9310"], ["127.0.0.1:9311"]),
        ("127.0.0.5", ["127.0.0.5:1"], ["127.0.0.6:1"]),
        ("[::1]:9222", ["[::1]:9222"], ["[::1]:9223", "127.0.0.1:9300"]),
        ("::1", ["[::1]:1"], ["[::2]:1"]),
        ("*.farm.example", ["a.farm.example:9222", "B.C.FARM.EXAMPLE.:1"], ["farm.example:1"]),
        ("*.farm.example:9222", ["a.farm.example:9222"], ["a.farm.example:9223"]),
        ("ff-??.rack", ["ff-01.rack:9222"], ["ff-1.rack:9222", "ff-01.rack.evil:9222"]),
    ],
)
def test_patterns(pattern: str, allowed: list[str], refused: list[str]) -> None:
    probe_targets = targets(pattern)
    for target in allowed:
        assert probe_targets.resolve(target).host
    for target in refused:
        assert "no --probe-allow pattern matches" in refusal(probe_targets, target)


def test_a_network_never_matches_a_host_name_nor_a_glob_an_address() -> None:
    """Decided on what the target says, never on what it resolves to (no DNS rebinding)."""
    refusal(targets("127.0.0.0/8"), "localhost:9222")
    refusal(targets("local*"), "127.0.0.1:1")


@pytest.mark.parametrize("target", ["127.1:9222", "2130706433:9222", "0x7f.0.0.1:9222"])
def test_short_ipv4_forms_are_refused(target: str) -> None:
    """The resolver reads 127.1 as 127.0.0.1: a host glob must not let it through."""
    assert "in full" in refusal(targets("127.*", "2*", "0x*"), target)


def test_credentials_in_a_target_are_refused_and_never_echoed() -> None:
    reason = refusal(targets("127.0.0.0/8"), f"ws://u:{SECRET}@127.0.0.1:9222/session")
    assert "credentials" in reason
    assert SECRET not in reason


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("127.0.0.1:9222-9223", "port range"),
        ("not a url", "neither a configured endpoint's name nor a valid endpoint"),
        ("ftp://127.0.0.1:21", "not supported"),
        ("x" * 500, "…"),
        ("\x1b[31mred\n", "\\x1b"),
    ],
)
def test_malformed_targets_get_one_line(target: str, expected: str) -> None:
    reason = refusal(targets("127.0.0.0/8"), target)
    assert expected in reason
    assert len(reason) < 400


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("*", "every host"),
        ("*.*", "every host"),
        ("0.0.0.0/0", "every address"),
        ("::/0", "every address"),
        ("[::/0]:9222", "every address"),
        ("host:port", "not a port"),
        ("host:70000", "1-65535"),
        ("host:9300-9200", "low to high"),
        ("bad host!", "not a host glob"),
        ("", "needs a pattern"),
        ("[::1", "[ADDRESS]:PORT"),
    ],
)
def test_bad_patterns(pattern: str, problem: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_patterns([pattern])
    assert problem in str(caught.value)
    assert str(caught.value).startswith("--probe-allow")


def test_the_index_follows_the_watched_endpoints() -> None:
    watched = configured()
    probe_targets = ProbeTargets(watched)
    assert probe_targets.resolve("127.0.0.1:9222").name == "ff-1"
    del watched["ff-1"]
    (other,) = parse_spec("ff-1=127.0.0.1:9300")
    watched["ff-1"] = other
    probe_targets.endpoints_changed()
    refusal(probe_targets, "127.0.0.1:9222")
    assert probe_targets.resolve("127.0.0.1:9300").name == "ff-1"


# --- the deadline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "timeout", "default", "expected"),
    [
        (None, None, 5.0, 5.0),  # the endpoint's or built-in timeout
        (None, "2", 5.0, 2.0),  # ?timeout=
        ("10", None, 5.0, 9.5),  # Prometheus's scrape timeout minus 0.5 s
        ("10", "3", 5.0, 3.0),  # a shorter ?timeout= still wins
        ("1", "3", 5.0, 0.5),
        ("0.55", None, 5.0, 0.1),  # never below the minimum timeout
        (None, "1000", 5.0, 300.0),  # nor above the maximum
    ],
)
def test_deadline(header: str | None, timeout: str | None, default: float, expected: float) -> None:
    assert probe_deadline(header, timeout, default) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("header", "timeout"), [("soon", None), (None, "nan"), (None, "-1"), (None, "inf"), ("0", None)]
)
def test_bad_deadlines(header: str | None, timeout: str | None) -> None:
    with pytest.raises(BadProbeRequest):
        probe_deadline(header, timeout, 5.0)
