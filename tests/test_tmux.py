"""The real binary in tmux, driven as a person drives it: Tab through the add dialog, the
quit question, the command palette, Escape in the filter, and what each state looks like
on 16-colour, 256-colour and colourless terminals (read back with ``capture-pane -e``)."""

from __future__ import annotations

import colorsys
from pathlib import Path

import pytest
from rich.color import EIGHT_BIT_PALETTE, STANDARD_PALETTE
from rich.color_triplet import ColorTriplet

from tests.tmux import CellStyle, Pane, style_at, tmux_pane

CONFIG = """\
# lab (this comment must survive)
[[endpoints]]
name = "ff-1"
url = "127.0.0.1:1"
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.toml"
    path.write_text(CONFIG)
    return path


def test_tab_through_the_add_dialog_then_save_and_quit(config_path: Path) -> None:
    with tmux_pane(["--config", str(config_path)], size=(80, 24)) as pane:
        pane.wait_for_text("ff-1")
        pane.send("a")
        pane.wait_for_text("Add endpoint")
        pane.type("127.0.0.1:2")
        pane.send("Tab")
        pane.type("lab-2")
        pane.send("Tab")
        pane.type("3")  # Timeout s, reached by Tab alone
        pane.send("Enter")
        shown = pane.wait_for(lambda s: "lab-2" in s and "Add endpoint" not in s)
        assert "[unsaved]" in shown
        pane.send("q")
        shown = pane.wait_for_text("Save and quit")
        (buttons,) = [line for line in shown.splitlines() if "Save and quit" in line]
        assert buttons.index("Save and quit") < buttons.index("Quit without saving")
        assert buttons.index("Quit without saving") < buttons.index("Cancel")
        pane.send("Tab", "Tab", "Enter")  # Tab to Cancel, press it
        pane.wait_for(lambda s: "Save and quit" not in s)
        pane.send("q")
        pane.wait_for_text("Save and quit")
        pane.send("Enter")  # the default: Save and quit
        assert pane.exit_status() == 0
    text = config_path.read_text()
    assert 'name = "lab-2"' in text and "timeout = 3" in text
    assert text.startswith("# lab (this comment must survive)")


def test_the_palette_runs_the_apps_commands(config_path: Path) -> None:
    with tmux_pane(["--config", str(config_path)]) as pane:
        pane.wait_for_text("ff-1")
        pane.send("C-p")
        pane.wait_for_text("Search for commands")
        pane.type("sort by name rev")
        pane.wait_for_text("Sort by name, reversed")
        pane.send("Enter")
        pane.wait_for_text("sort: name ▼")
        pane.send("C-p")
        pane.wait_for_text("Search for commands")
        pane.type("only is:error")
        pane.wait_for_text("Show only is:error")
        pane.send("Enter")
        pane.wait_for_text("1 of 1 shown")
        pane.send("Escape")  # closes and clears the filter in one press
        pane.wait_for(lambda s: "shown" not in s)
        pane.send("q")
        assert pane.exit_status() == 0


def test_escape_closes_an_empty_filter_so_q_quits(config_path: Path) -> None:
    with tmux_pane(["--config", str(config_path)]) as pane:
        pane.wait_for_text("ff-1")
        pane.send("/")
        pane.wait_for_text("filter: words")
        pane.send("Escape")
        pane.wait_for(lambda s: "filter: words" not in s)
        pane.send("q")
        assert pane.exit_status() == 0


def test_the_demo_farm_quits_at_once_after_an_edit() -> None:
    with tmux_pane(["--demo"], size=(80, 24)) as pane:
        pane.wait_for_text("firefox-1")
        pane.send("a")
        pane.wait_for_text("Add endpoint")
        pane.type("127.0.0.1:3")
        pane.send("Enter")
        pane.wait_for(lambda s: "127.0.0.1:3" in s and "Add endpoint" not in s)
        pane.send("q")
        assert pane.exit_status() == 0


def test_sixty_by_twenty_keeps_rows_apart_and_help_and_quit_in_the_footer() -> None:
    with tmux_pane(["--demo"], size=(60, 20)) as pane:
        shown = pane.wait_for(lambda s: "ERROR" in s and "READY" in s)
        lines = shown.splitlines()
        rows = [line for line in lines if "READY" in line or "ERROR" in line][1:]  # no summary
        names = [line.split("  ")[1].strip() for line in rows if "  " in line]
        names = [line[13:23].strip() for line in rows]
        assert len(set(names)) == len(names), names  # every row told apart
        footer = lines[-1] if lines[-1].strip() else lines[-2]
        assert "? Help" in footer and "q Quit" in footer
        pane.send("q")
        assert pane.exit_status() == 0


# --- colour -----------------------------------------------------------------------------


def _rgb(sgr: str) -> ColorTriplet:
    parts = sgr.split(";")
    if parts[:2] in (["38", "5"], ["48", "5"]):
        return EIGHT_BIT_PALETTE[int(parts[2])]
    if parts[:2] in (["38", "2"], ["48", "2"]):
        return ColorTriplet(*map(int, parts[2:5]))
    number = int(parts[0])
    base = 30 if number < 40 else 40 if number < 90 else 90 if number < 100 else 100
    index = number - base + (8 if base in (90, 100) else 0)
    return STANDARD_PALETTE[index]


def hue_family(triplet: ColorTriplet) -> str:
    hue, _, saturation = colorsys.rgb_to_hls(*(c / 255 for c in triplet))
    degrees = hue * 360
    if saturation < 0.25:
        return "grey"
    if degrees < 20 or degrees >= 330:
        return "red"
    if 25 <= degrees < 70:
        return "yellow"
    if 75 <= degrees < 170:
        return "green"
    return f"other ({degrees:.0f}°)"


def _luminance(triplet: ColorTriplet) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in triplet)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: ColorTriplet, other: ColorTriplet) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def demo_screen(pane: Pane) -> str:
    def all_states(shown: str) -> bool:
        return all(label in shown for label in ("● READY", "◐ NOT READY", "✖ ERROR"))

    return pane.wait_for(all_states, timeout=20, colours=True)


EXPECTED_FAMILY = {"● READY": "green", "◐ NOT READY": "yellow", "✖ ERROR": "red"}


def state_cells(screen: str) -> list[tuple[str, CellStyle]]:
    """(label, style) of the state cell of every row on a ``-e`` screen, cursor row too."""
    header = screen.index("STATE")
    cells = []
    for label in EXPECTED_FAMILY:
        at = screen.find(label, header)
        while at >= 0:
            cells.append((label, style_at(screen[: at + len(label)], label, last=True)))
            at = screen.find(label, at + 1)
    return cells


def drawn_colours(style: CellStyle) -> tuple[ColorTriplet, ColorTriplet]:
    """(text, background) as the terminal draws them, reverse video applied."""
    assert style.fg is not None and style.bg is not None, style
    fg, bg = _rgb(style.fg), _rgb(style.bg)
    return (bg, fg) if style.reverse else (fg, bg)


@pytest.mark.parametrize("term", ["xterm-256color", "xterm"])
def test_states_keep_their_hue_family_and_contrast(term: str) -> None:
    with tmux_pane(["--demo"], env={"TERM": term}) as pane:
        cells = state_cells(demo_screen(pane))
        assert {label for label, _ in cells} == set(EXPECTED_FAMILY)
        for label, style in cells:
            if term == "xterm":
                assert not (style.fg or "").startswith("38;"), (label, style)  # 16 colours
            text, background = drawn_colours(style)
            hue = _rgb(style.fg) if style.fg else text  # the state's colour, badge or text
            if label == "✖ ERROR":
                hue = background
            assert hue_family(hue) == EXPECTED_FAMILY[label], (term, label, style)
            ratio = contrast(text, background)
            assert ratio >= 4.5, (term, label, style, round(ratio, 2))
        pane.send("q")
        assert pane.exit_status() == 0


def test_without_colour_an_error_stands_out_more_than_ready() -> None:
    with tmux_pane(["--demo"], env={"NO_COLOR": "1"}) as pane:
        cells = state_cells(demo_screen(pane))
        for label, style in cells:
            text, background = drawn_colours(style)
            for colour in (text, background):
                assert hue_family(colour) == "grey", (label, style)  # no colour at all
            assert contrast(text, background) >= 4.5, (label, style)
        error = next(style for label, style in cells if label == "✖ ERROR")
        ready = next(style for label, style in cells if label == "● READY")
        assert error.reverse and error.bold, error  # inverse video
        assert ready.bold and not ready.reverse, ready
        assert _prominence(error) > _prominence(ready)
        pane.send("q")
        assert pane.exit_status() == 0


def _prominence(style: CellStyle) -> int:
    return 2 * style.reverse + style.bold
