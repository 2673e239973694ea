"""Groups and roll-ups: the pure arrangement, the dashboard by keys, and `check --group-by`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.view.grouping import (
    UNTAGGED,
    GroupBy,
    arrange,
    group_of,
    group_row_key,
    group_view,
    natural_key,
    next_grouping,
    rollup_text,
)
from bidi_tui.view.states import RowState
from tests.scenes import Verdicts, make_app, palette_prompts, settle, table_lines, write_config

FARM = """\
[[endpoints]]
name = "rack10"
url = "127.0.0.1:21101-21102"
tags = ["rack10"]

[[endpoints]]
name = "rack2"
url = "127.0.0.2:21201-21204"
tags = ["rack2", "firefox"]

[[endpoints]]
name = "solo"
url = "127.0.0.3:21301"
"""


def farm_endpoints() -> dict[str, Endpoint]:
    specs = [
        ("rack10=127.0.0.1:21101-21102", ("rack10",)),
        ("rack2=127.0.0.2:21201-21204", ("rack2", "firefox")),
        ("solo=127.0.0.3:21301", ()),
    ]
    return {e.name: e for spec, tags in specs for e in parse_spec(spec, tags=tags)}


def test_groups_by_first_tag_or_host_in_natural_order() -> None:
    endpoints = farm_endpoints()
    names = list(endpoints)
    rows = arrange(names, endpoints, GroupBy.TAG)
    assert rows == [
        group_row_key("rack2"), "rack2-1", "rack2-2", "rack2-3", "rack2-4",
        group_row_key("rack10"), "rack10-1", "rack10-2",
        group_row_key(UNTAGGED), "solo",
    ]  # fmt: skip
    assert arrange(names, endpoints, GroupBy.TAG, frozenset({"rack2"}))[:2] == [
        group_row_key("rack2"),
        group_row_key("rack10"),
    ]
    by_host = arrange(names, endpoints, GroupBy.HOST)
    assert by_host[0] == group_row_key("127.0.0.1") and by_host[3] == group_row_key("127.0.0.2")
    assert arrange(names, endpoints, GroupBy.NONE) == names
    assert group_of(endpoints["rack2-1"], GroupBy.TAG) == "rack2"  # the first tag only
    assert sorted(["rack10", "rack2", UNTAGGED, "rack1"], key=natural_key) == [
        "rack1", "rack2", "rack10", UNTAGGED,
    ]  # fmt: skip
    assert [next_grouping(g) for g in GroupBy] == [GroupBy.TAG, GroupBy.HOST, GroupBy.NONE]


def test_a_rollup_reads_ready_of_all_then_the_rest() -> None:
    view = group_view(
        "rack2",
        [RowState.READY] * 8 + [RowState.NOT_READY, RowState.ERROR],
    )
    assert rollup_text(view) == "8/10 ready · 1 not ready · 1 error"
    assert rollup_text(group_view("x", [RowState.PAUSED])) == "0/1 ready · 1 paused"


# --- the dashboard ------------------------------------------------------------------------


@pytest.fixture
def farm_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BidiTuiApp:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    verdicts = Verdicts({"rack2-3": "busy", "rack2-4": "refused", "solo": "refused"})
    return make_app(write_config(tmp_path, FARM), verdicts)


def shown(app: BidiTuiApp) -> list[str]:
    return [line.strip(" ▌") for line in table_lines(app)[1:] if line.strip()]


async def test_b_cycles_grouping_and_headers_count_their_group(farm_app: BidiTuiApp) -> None:
    app = farm_app
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        lines = shown(app)
        assert lines[0] == "▾ rack2  2/4 ready · 1 not ready · 1 error"
        assert lines[5] == "▾ rack10  2/2 ready"
        assert lines[8] == f"▾ {UNTAGGED}  0/1 ready · 1 error"
        summary = str(app.query_one("#summary").render())
        assert "by tag" in summary and "3 ready" not in summary  # counts stay global
        await pilot.press("b")
        assert shown(app)[0].startswith("▾ 127.0.0.1  2/2 ready")
        await pilot.press("b")
        assert not any(line.startswith("▾") for line in shown(app))


async def test_groups_fold_with_left_right_and_enter(farm_app: BidiTuiApp) -> None:
    app = farm_app
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("b", "g", "down", "down")  # on rack2-2
        assert app.selected_name == "rack2-2"
        await pilot.press("left")  # folds rack2, the cursor on its header
        lines = shown(app)
        assert lines[0].startswith("▸ rack2") and lines[1].startswith("▾ rack10")
        assert app.selected_name is None  # a header: row actions are dimmed
        await pilot.press("right")
        assert shown(app)[1].split()[2] == "rack2-1"
        await pilot.press("enter")  # Enter on a header toggles it
        assert shown(app)[0].startswith("▸ rack2")
        await pilot.press("enter")
        assert shown(app)[0].startswith("▾ rack2")


async def test_filter_and_sort_work_inside_groups(farm_app: BidiTuiApp) -> None:
    app = farm_app
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("b", "slash", *"is:error", "enter")
        lines = shown(app)
        assert [
            line.split()[-1] if not line.startswith("▾") else line.split()[1] for line in lines
        ][:2]
        names = [line.split()[2] for line in lines if line.startswith("✖")]
        assert names == ["rack2-4", "solo"]
        assert lines[0].startswith("▾ rack2  2/4 ready")  # the roll-up counts the whole group


async def test_go_to_unfolds_the_group(farm_app: BidiTuiApp) -> None:
    app = farm_app
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("b", "g", "left")
        assert shown(app)[0].startswith("▸ rack2")
        await palette_prompts(pilot, app, "go to rack2-3")
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected_name == "rack2-3"
        assert shown(app)[0].startswith("▾ rack2")


def test_check_group_by_prints_the_rollup_under_the_table(tmp_path: Path) -> None:
    path = write_config(tmp_path, FARM)
    done = subprocess.run(
        [sys.executable, "-m", "bidi_tui", "check", "--config", str(path), "--timeout", "1",
         "--group-by", "tag"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr  # nothing listens on those ports
    tail = done.stdout.splitlines()[-4:]
    assert tail == [
        "by tag:",
        "  rack2       0/4 ready · 4 error",
        "  rack10      0/2 ready · 2 error",
        "  (untagged)  0/1 ready · 1 error",
    ]
    plain = subprocess.run(
        [sys.executable, "-m", "bidi_tui", "check", "--config", str(path), "--timeout", "1",
         "--group-by", "host", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plain.stdout.lstrip().startswith("[")  # --json is unchanged by --group-by
