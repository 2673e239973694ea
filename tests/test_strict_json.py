"""strict_json_dumps: what an endpoint sent, written as strict RFC 8259 JSON."""

from __future__ import annotations

import json

import pytest

from bidi_tui.untrusted import strict_json_dumps


def strict_loads(text: str) -> object:
    def refuse(token: str) -> None:
        raise ValueError(token)

    text.encode("utf-8")  # a lone surrogate would fail here
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_and_lone_surrogates() -> None:
    value = {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "\ud800key": "a\udfffb"}
    text = strict_json_dumps(value, ensure_ascii=False)
    assert strict_loads(text) == {
        "nan": "NaN",
        "inf": ["Infinity", "-Infinity"],
        "\ufffdkey": "a\ufffdb",
    }
    assert strict_loads(strict_json_dumps(value)) == strict_loads(text)  # ensure_ascii too


def test_everything_else_is_unchanged() -> None:
    value = {"a": [1, 2.5, True, None, "é", {"b": []}], "c": ()}
    assert json.loads(strict_json_dumps(value)) == {
        "a": [1, 2.5, True, None, "é", {"b": []}],
        "c": [],
    }


@pytest.mark.parametrize("depth", [1, 900])
def test_deep_nesting_does_not_exhaust_the_stack(depth: int) -> None:
    """As deep as Python's JSON decoder lets an answer be (its recursion limit, ~1000)."""
    nested: object = float("nan")
    for _ in range(depth):
        nested = [nested]
    text = strict_json_dumps(nested)
    assert text == "[" * depth + '"NaN"' + "]" * depth
