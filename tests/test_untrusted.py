"""Untrusted text: every string an endpoint sends, through every output channel.

A corpus of nasty strings (markup, terminal escapes, OSC 52, NUL, C1 controls, bidi
overrides, lone surrogates, a 1 MB string) is sent by real local servers as a status
message, a meta value, a BiDi error, an HTTP reason phrase, a Location header and a close
reason. `bidi-tui check` (the real binary, table and --json), the dashboard's table, its
detail view and its notifications must show each as inert text: no control character
reaches the output, markup is shown literally, nothing crashes, and JSON stays strict.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import re
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

from bidi_tui.config import Config
from bidi_tui.endpoints import parse_spec
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.ui.screens.detail import DetailScreen
from bidi_tui.untrusted import CELL_LIMIT, SafeText, one_line, safe_text, strict_json_dumps
from tests.bidi_servers import (
    Served,
    closing_server,
    http_server,
    replying_server,
    status_server,
)
from tests.scenes import table_lines

NASTY = {
    "markup-close": "Session already started [/session/abc]",
    "markup-lone": "ok [/] done",
    "markup-click": "[@click=app.quit]click me",
    "markup-style": "[reverse bold green]ALL GOOD[/]",
    "markup-word": "[busy] 1 session",
    "osc-title": "\x1b]0;pwned\x07title",
    "clear-screen": "\x1b[2Jgone",
    "osc52": "\x1b]52;c;ZWNobyBwd25lZA==\x07copied",
    "nul": "a\x00b",
    "c1-csi": "\x9b31mred",
    "rtl": "\u202eevil\u202c ok",
    "surrogate": "bad \ud800 half",
    "newlines": "line one\r\nline two\x7f",
}
HUGE = "x" * 1_000_000
# What must never reach a terminal: C0 controls but the line feed, DEL, C1 controls, bidi
# controls, lone surrogates.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def assert_inert(text: str, where: str) -> None:
    found = FORBIDDEN.search(text)
    assert found is None, f"{where}: {found.group()!r} at {found.start()}: {text[:200]!r}"


# --- the boundary itself ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NASTY))
def test_safe_text_leaves_nothing_a_terminal_acts_on(name: str) -> None:
    safe = safe_text(NASTY[name])
    assert isinstance(safe, SafeText)
    assert_inert(safe, name)
    assert_inert(safe_text(NASTY[name], multiline=True), name)


def test_safe_text_stand_ins_are_visible() -> None:
    assert safe_text("\x1b[2J") == "␛[2J"
    assert safe_text("a\x00b\x7f") == "a␀b␡"
    assert safe_text("\x9b") == "\\x9b"
    assert safe_text("\u202eabc") == "\\u202eabc"
    assert safe_text("\ud800") == "\ufffd"
    assert safe_text("a\nb") == "a b"
    assert safe_text("a\nb", multiline=True) == "a\nb"
    assert safe_text("[b]x[/b]") == "[b]x[/b]"  # markup is just text to it


def test_safe_text_bounds_and_is_cheap_on_huge_input() -> None:
    safe = safe_text(HUGE + "\x1b")
    assert len(safe) == CELL_LIMIT and safe.endswith("…")
    assert one_line("a  \t b\n\nc") == "a b c"
    assert safe_text("ok") == "ok" and safe_text(12.5) == "12.5"


def test_strict_json_keeps_everything_and_parses_strictly() -> None:
    value = {
        "m": "bad \ud800",
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "n": [1, 2.5, {"\udcff": True}],
    }
    text = strict_json_dumps(value)
    parsed = json.loads(text, parse_constant=_no_constants)
    assert parsed == {
        "m": "bad \ufffd",
        "nan": "NaN",
        "inf": "Infinity",
        "ninf": "-Infinity",
        "n": [1, 2.5, {"\ufffd": True}],
    }
    text.encode("utf-8")  # no lone surrogate left to fail an encoder


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not RFC 8259 JSON")


# --- hostile endpoints, for real --------------------------------------------------------


def bidi_error_frame(text: str) -> Callable[[int], str]:
    def build(request_id: int) -> str:
        return json.dumps({"type": "error", "id": request_id, "error": text, "message": text})

    return build


def raw_status_frame(message: str, meta: str) -> Callable[[int], str]:
    """A success answer whose meta holds literal JSON (1e400, -1e400: valid JSON input)."""

    def build(request_id: int) -> str:
        return (
            f'{{"type": "success", "id": {request_id}, "result": {{"ready": true, '
            f'"message": {json.dumps(message)}, "meta": {meta}}}}}'
        )

    return build


@contextlib.asynccontextmanager
async def hostile_farm() -> AsyncIterator[dict[str, Served]]:
    """One endpoint per (field, nasty string)."""
    async with contextlib.AsyncExitStack() as stack:
        served: dict[str, Served] = {}
        for name, text in NASTY.items():
            served[f"msg-{name}"] = await stack.enter_async_context(status_server(True, text))
            served[f"meta-{name}"] = await stack.enter_async_context(
                status_server(False, "", note=text, nested={text: [text]})
            )
            served[f"bidi-{name}"] = await stack.enter_async_context(
                replying_server(bidi_error_frame(text))
            )
            # On the wire, HTTP carries bytes: the string's UTF-8, line breaks left out.
            wire = text.encode("utf-8", "replace").decode("latin-1").replace("\r\n", " ")
            served[f"reason-{name}"] = await stack.enter_async_context(http_server(403, wire))
            served[f"loc-{name}"] = await stack.enter_async_context(
                http_server(302, "Found", headers={"Location": "ws://x/" + wire[:40]})
            )
            served[f"close-{name}"] = await stack.enter_async_context(
                closing_server(1011, text.encode("utf-8", "replace").decode()[:60])
            )
        served["msg-huge"] = await stack.enter_async_context(status_server(True, HUGE[:900_000]))
        served["meta-numbers"] = await stack.enter_async_context(
            replying_server(raw_status_frame("numbers", '{"big": 1e400, "small": -1e400}'))
        )
        yield served


def specs(served: dict[str, Served]) -> list[str]:
    return [f"{name}={server.url}" for name, server in served.items()]


async def run_check(*args: str) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bidi_tui",
        "check",
        "--timeout",
        "3",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"},
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out, err


async def test_check_prints_every_hostile_field_inert(tmp_path: Path) -> None:
    async with hostile_farm() as served:
        code, out, err = await run_check(*specs(served))
    assert err == b""  # no traceback, no warning
    assert code == 2  # some are in error, none crashed the run
    text = out.decode("utf-8")  # strict: a lone surrogate would have failed here
    assert_inert(text, "check table")
    lines = text.splitlines()
    for name in served:
        assert any(f" {name} " in line for line in lines), name
    row = next(line for line in lines if " msg-markup-style " in line)
    assert "[reverse bold green]ALL GOOD[/]" in row  # literal, not styled
    assert "␛]52;c;" in next(line for line in lines if " msg-osc52 " in line)


async def test_check_json_is_strict_and_faithful_for_every_hostile_field() -> None:
    async with hostile_farm() as served:
        code, out, err = await run_check("--json", *specs(served))
    assert err == b"" and code == 2
    results = {r["name"]: r for r in json.loads(out.decode("utf-8"), parse_constant=_no_constants)}
    assert set(results) == set(served)
    assert results["msg-markup-click"]["message"] == NASTY["markup-click"]
    assert results["msg-osc52"]["message"] == NASTY["osc52"]  # JSON escaping keeps it safe
    assert results["msg-surrogate"]["message"] == "bad \ufffd half"
    assert results["meta-numbers"]["meta"] == {"meta": {"big": "Infinity", "small": "-Infinity"}}
    assert len(results["msg-huge"]["message"]) == 900_000
    assert "\\u001b" in out.decode() and "\x1b" not in out.decode()


def plain(renderable: object) -> str:
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_the_dashboard_shows_every_hostile_field_inert(tmp_path: Path) -> None:
    async with hostile_farm() as served:
        endpoints = [e for spec in specs(served) for e in parse_spec(spec)]
        app = BidiTuiApp(
            Config(path=tmp_path / "none.toml"),
            endpoints,
            settings=Settings(cli_timeout=3, cli_interval=3600),
        )
        async with app.run_test(size=(200, len(endpoints) + 8)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if all(w.last is not None for w in app.engine.watches.values()):
                    break
            app.apply_updates()
            await pilot.pause()
            assert app.is_running  # no MarkupError, no click-to-quit
            screen = "\n".join(table_lines(app))
            assert_inert(screen, "table")
            assert "[reverse bold green]ALL GOOD[/]" in screen
            assert "[busy] 1 session" in screen
            for name in served:
                app.table.select(name)
                await pilot.press("enter")
                await pilot.pause()
                assert isinstance(app.screen, DetailScreen), name
                shown = plain(app.screen.query_one("#detail", Static).content)
                assert_inert(shown, f"detail of {name}")
                await pilot.press("escape")
                await pilot.pause()
            detail_of_markup = None
            app.table.select("bidi-markup-lone")
            await pilot.press("enter")
            await pilot.pause()
            detail_of_markup = plain(app.screen.query_one("#detail", Static).content)
            assert "boom" not in detail_of_markup and "ok [/] done" in detail_of_markup
            await pilot.press("escape")
            # A click where the click-markup message is drawn does nothing but select.
            line = next(y for y, text in enumerate(table_lines(app)) if "msg-markup-click" in text)
            await pilot.click(app.table, offset=(60, line))
            await pilot.pause()
            assert app.is_running
            messages = [n.message for n in app._notifications]
            for message in messages:
                assert_inert(message, "notification")
