"""The dashboard's keys: the footer shows the everyday ones, `?` lists them all and ctrl+p
finds them by name (the palette lists these same bindings)."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding

# Help and Quit come first: a narrow terminal cuts the footer from the right.
BINDINGS: list[Binding] = [
    Binding("question_mark", "help", "Help", tooltip="Show every key"),
    Binding("q", "quit", "Quit", tooltip="Quit (asks if there are unsaved edits)"),
    Binding("r", "recheck", "Check", tooltip="Check the selected endpoint now"),
    Binding("R", "recheck_all", "Check all", tooltip="Check every endpoint now", show=False),
    Binding("a", "add", "Add", tooltip="Add an endpoint"),
    Binding("e", "edit", "Edit", tooltip="Edit the selected endpoint"),
    Binding("d", "delete", "Del", tooltip="Delete the selected endpoint"),
    Binding(
        "space", "toggle_pause", "Pause", tooltip="Pause or resume the selected", key_display="␣"
    ),
    Binding("P", "pause_all", "Pause all", tooltip="Pause or resume all", show=False),
    Binding("slash", "filter", "Filter", tooltip="Filter by text and is:STATE"),
    Binding(
        "escape", "clear_filter", "Clear filter", tooltip="Close and clear the filter", show=False
    ),
    Binding("s", "sort", "Sort", tooltip="Cycle the sort column"),
    Binding("S", "reverse_sort", "Reverse sort", tooltip="Reverse the sort", show=False),
    Binding("b", "group", "Group", tooltip="Group rows: none, by tag, by host", show=False),
    Binding(
        "enter", "details", "Details", tooltip="Open the detail view", key_display="⏎", show=False
    ),
    Binding("g", "first_row", "First", tooltip="Go to the first row (also home)", show=False),
    Binding("G", "last_row", "Last", tooltip="Go to the last row (also end)", show=False),
    Binding("w", "save", "Write", tooltip="Write the endpoints to the config file"),
]

# More keys for the help screen: the table's, the dialogs', the palette's.
OTHER_KEYS = [
    ("↑ ↓ j k", "Move the cursor (PgUp/PgDn by pages, Home/End to the ends)"),
    ("← →", "Fold / unfold the group of the selected row (when grouped)"),
    ("tab", "Next field or button in a dialog (shift+tab: previous)"),
    ("^p", "Command palette: every action by name, sorting, filters, go to endpoint"),
    ("^c", "Quit, like q (SIGTERM and SIGHUP quit at once)"),
]


def help_rows(key_display: Callable[[Binding], str]) -> list[tuple[str, str]]:
    """The help screen's rows: every binding's key as ``key_display`` shows it, then the
    other keys."""
    return [(key_display(b), b.tooltip or b.description) for b in BINDINGS] + OTHER_KEYS


# Actions of the main screen: asleep while a dialog or the detail view is on top (Tab, the
# palette and the dialogs' own keys are not among them).
MAIN_SCREEN_ACTIONS = frozenset(
    binding.action for binding in BINDINGS if binding.action not in ("help", "quit")
)
NEEDS_A_ROW = frozenset({"recheck", "edit", "delete", "toggle_pause", "details"})
