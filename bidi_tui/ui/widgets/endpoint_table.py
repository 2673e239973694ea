"""The endpoint table: a Line-API ``ScrollView`` that draws only the rows on screen.

Each line is built from the row's :class:`~bidi_tui.view.rows.RowView` (plain, already safe
values) into segments of our own, cropped and padded to the column widths: nothing is
parsed as markup and nothing is measured per cell of rows that are not drawn. Lines are
cached under what makes them look the way they do (the row's view, the cursor, the stripe,
the layout and the width), so a repaint of unchanged rows is a dictionary lookup, and an
update refreshes only the lines on screen whose view changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from bidi_tui.view.columns import GAP, MARGIN, Column, Layout
from bidi_tui.view.filtering import SortKey
from bidi_tui.view.grouping import GroupView, group_name, is_group_row, rollup_text
from bidi_tui.view.rows import RowView
from bidi_tui.view.states import colourless

LINE_CACHE_SIZE = 1024
HEADER_LINES = 1
CURSOR_MARK = "▌"  # in the margin of the selected row: the cursor, with or without colour


class EndpointTable(ScrollView, can_focus=True):
    """One row per endpoint, in the order the App sets; a row cursor; a sticky header."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "endpoint-table--header",
        "endpoint-table--header-sorted",
        "endpoint-table--cursor",
        "endpoint-table--even-row",
        "endpoint-table--odd-row",
        "endpoint-table--group",
    }

    DEFAULT_CSS = """
    EndpointTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .endpoint-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .endpoint-table--header-sorted {
            color: $accent;
        }
        & > .endpoint-table--odd-row {
            background: $surface-lighten-1 40%;
        }
        & > .endpoint-table--even-row {
            background: $surface;
        }
        /* A light lift, not a saturated bar: the state colours keep their contrast on
           the selected row, and the margin's ▌ marks it without colour. */
        & > .endpoint-table--group {
            background: $panel;
            color: $foreground;
        }
        & > .endpoint-table--cursor {
            background: $foreground 6%;
        }
        &:focus > .endpoint-table--cursor {
            background: $foreground 12%;
            text-style: bold;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
        Binding("left", "fold", "Fold group", show=False),
        Binding("right", "unfold", "Unfold group", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class CursorMoved(Message):
        """The selected row changed (or the rows under the cursor did)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    class RowActivated(Message):
        """Enter, or a click on the selected row: open it."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class GroupToggled(Message):
        """Enter (or a click) on a group's header, or left/right: fold or unfold it."""

        def __init__(self, group: str, collapse: bool | None) -> None:
            super().__init__()
            self.group = group
            self.collapse = collapse  # None: the other way round from now

    class HeaderClicked(Message):
        """A click on a column header that has a sort."""

        def __init__(self, sort: SortKey) -> None:
            super().__init__()
            self.sort = sort

    def __init__(
        self,
        view_of: Callable[[str], RowView | GroupView],
        layout_for: Callable[[int], Layout],
        *,
        id: str | None = None,
    ) -> None:
        """``view_of(name)`` gives a row's view; ``layout_for(width)`` the columns that fit
        (asked again on every resize and :meth:`relayout`)."""
        super().__init__(id=id)
        self._view_of = view_of
        self._layout_for = layout_for
        self._names: list[str] = []
        self._positions: dict[str, int] = {}
        self._views: dict[str, RowView | GroupView] = {}
        self._layout = Layout(())
        self._sort: tuple[SortKey, bool] = (SortKey.CONFIG, False)
        self._line_cache: LRUCache[tuple[object, ...], Strip] = LRUCache(LINE_CACHE_SIZE)
        self._styles: dict[str, Style] = {}
        self._bases: dict[tuple[str, ...], Style] = {}
        self._last_posted: str | None = None

    # --- what the App tells it ------------------------------------------------------------

    @property
    def names(self) -> Sequence[str]:
        return self._names

    @property
    def row_count(self) -> int:
        return len(self._names)

    @property
    def layout_spec(self) -> Layout:
        return self._layout

    def set_rows(self, names: Sequence[str]) -> None:
        """Show ``names`` in this order; the cursor stays on the selected endpoint."""
        selected = self.selected_name
        self._names = list(names)
        self._positions = {name: index for index, name in enumerate(self._names)}
        kept = set(self._positions)
        # Group headers are recomputed: their members or folding may have changed.
        self._views = {
            name: view
            for name, view in self._views.items()
            if name in kept and not isinstance(view, GroupView)
        }
        self._update_virtual_size()
        if selected is not None and selected in self._positions:
            self.cursor_row = self._positions[selected]
        else:
            self.cursor_row = min(self.cursor_row, max(len(self._names) - 1, 0))
        self.refresh()

    def relayout(self) -> None:
        """Fit the columns again (the endpoints changed, so may the longest name)."""
        layout = self._layout_for(self.size.width - self.scrollbar_size_vertical)
        if layout != self._layout:
            self._layout = layout
            self.refresh()

    def set_sort(self, key: SortKey, reverse: bool) -> None:
        if (key, reverse) != self._sort:
            self._sort = (key, reverse)
            self.refresh(Region(0, 0, self.size.width, HEADER_LINES))  # sticky: on screen

    def update_rows(self, names: Iterable[str]) -> None:
        """The rows of ``names`` may show something new: lines on screen whose view changed
        are redrawn; the others are rebuilt when they scroll into view."""
        first, last = self._visible_range()
        for name in names:
            position = self._positions.get(name)
            if position is None:
                continue
            if first <= position < last:
                view = self._view_of(name)
                if self._views.get(name) != view:
                    self._views[name] = view
                    self.refresh_line(position + HEADER_LINES)
            else:
                self._views.pop(name, None)

    def refresh_visible(self) -> None:
        """Ages tick: recompute the rows on screen, redraw those that changed."""
        self.update_rows(self.visible_names())

    def row_view(self, name: str) -> RowView:
        """What endpoint ``name``'s row shows now."""
        view = self._view_of(name)
        assert isinstance(view, RowView), name
        return view

    def visible_names(self) -> list[str]:
        first, last = self._visible_range()
        return self._names[first:last]

    @property
    def selected_key(self) -> str | None:
        """The row under the cursor: an endpoint's name or a group header's key."""
        if not self._names:
            return None
        return self._names[min(self.cursor_row, len(self._names) - 1)]

    @property
    def selected_name(self) -> str | None:
        """The endpoint under the cursor (None on a group's header)."""
        key = self.selected_key
        return None if key is None or is_group_row(key) else key

    def _group_above(self, row: int) -> int | None:
        for index in range(min(row, len(self._names) - 1), -1, -1):
            if is_group_row(self._names[index]):
                return index
        return None

    def select(self, name: str) -> bool:
        """Move the cursor to ``name``'s row; False when it is not shown."""
        position = self._positions.get(name)
        if position is None:
            return False
        self.cursor_row = position
        return True

    # --- cursor ---------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.size.height - HEADER_LINES)

    def _visible_range(self) -> tuple[int, int]:
        first = max(0, int(self.scroll_offset.y))
        return first, min(len(self._names), first + self._page)

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._names) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        for row in {old, new}:
            self.refresh_line(row + HEADER_LINES)
        self._scroll_to_cursor()
        name = self.selected_key
        if name != self._last_posted:
            self._last_posted = name
            self.post_message(self.CursorMoved(self.selected_name))

    def _scroll_to_cursor(self) -> None:
        row = self.cursor_row
        top = int(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + self._page:
            self.scroll_to(y=row - self._page + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_page_up(self) -> None:
        self.cursor_row -= self._page

    def action_page_down(self) -> None:
        self.cursor_row += self._page

    def action_first_row(self) -> None:
        self.cursor_row = 0

    def action_last_row(self) -> None:
        self.cursor_row = len(self._names) - 1

    def action_fold(self) -> None:
        header = self._group_above(self.cursor_row)
        if header is not None:
            self.cursor_row = header
            self.post_message(self.GroupToggled(group_name(self._names[header]), True))

    def action_unfold(self) -> None:
        key = self.selected_key
        if key is not None and is_group_row(key):
            self.post_message(self.GroupToggled(group_name(key), False))

    def _activate(self, key: str) -> None:
        if is_group_row(key):
            self.post_message(self.GroupToggled(group_name(key), None))
        else:
            self.post_message(self.RowActivated(key))

    def key_enter(self, event: events.Key) -> None:
        key = self.selected_key
        if key is not None:
            event.stop()
            self._activate(key)

    def on_click(self, event: events.Click) -> None:
        if event.y < HEADER_LINES:
            sort = self._column_at(event.x)
            if sort is not None:
                self.post_message(self.HeaderClicked(sort))
            return
        row = int(self.scroll_offset.y) + event.y - HEADER_LINES
        if not 0 <= row < len(self._names):
            return
        if row == self.cursor_row:
            self._activate(self._names[row])
        else:
            self.cursor_row = row

    def _column_at(self, x: int) -> SortKey | None:
        left = MARGIN
        for column, width in self._layout.columns:
            if left <= x < left + width + GAP:
                return column.sort
            left += width + GAP
        return None

    # --- drawing --------------------------------------------------------------------------

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._names) + HEADER_LINES)

    def on_resize(self) -> None:
        self._update_virtual_size()
        self.relayout()

    def _style(self, text: str) -> Style:
        style = self._styles.get(text)
        if style is None:
            if self.app.no_color:
                text = colourless(text)
            style = self._styles[text] = Style.parse(text) if text else Style()
        return style

    def _base(self, *components: str) -> Style:
        """The widget's style with ``components``' on top. Cached until the styles change:
        ``rich_style`` walks every ancestor's styles, half the cost of drawing a line."""
        style = self._bases.get(components)
        if style is None:
            style = self.rich_style
            for component in components:
                style += self.get_component_rich_style(component)
            self._bases[components] = style
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._bases.clear()
        self._line_cache.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < HEADER_LINES:
            return self._header(width)
        row = int(self.scroll_offset.y) + y - HEADER_LINES
        if row >= len(self._names):
            return Strip.blank(width, self._base())
        name = self._names[row]
        view = self._views.get(name)
        if view is None:
            view = self._views[name] = self._view_of(name)
        selected = row == self.cursor_row
        key = (view, selected, row % 2, self.has_focus, self._layout, width)
        strip = self._line_cache.get(key)
        if strip is not None:
            return strip
        if isinstance(view, GroupView):
            strip = self._group_line(view, selected, width)
        else:
            stripe = "endpoint-table--odd-row" if row % 2 else "endpoint-table--even-row"
            base = self._base(stripe, "endpoint-table--cursor") if selected else self._base(stripe)
            strip = self._line(
                [
                    (column, width_, column.text(view), column.style(view))
                    for column, width_ in (self._layout.columns)
                ],
                base,
                width,
                margin=CURSOR_MARK if selected else " ",
            )
        self._line_cache[key] = strip
        return strip

    def _group_line(self, view: GroupView, selected: bool, width: int) -> Strip:
        group = "endpoint-table--group"
        base = self._base(group, "endpoint-table--cursor") if selected else self._base(group)
        fold = "▸" if view.collapsed else "▾"
        segments = [
            Segment((CURSOR_MARK if selected else " ").ljust(MARGIN), base),
            Segment(f"{fold} ", base),
            Segment(view.name, base + Style(bold=True)),
            Segment(f"  {rollup_text(view)}", base),
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def _header(self, width: int) -> Strip:
        sort, reverse = self._sort
        key = ("header", sort, reverse, self._layout, width)
        strip = self._line_cache.get(key)
        if strip is None:
            base = self._base("endpoint-table--header")
            sorted_style = self.get_component_rich_style(
                "endpoint-table--header-sorted", partial=True
            )
            cells = []
            for column, column_width in self._layout.columns:
                label = column.label
                style = ""
                if column.sort is not None and column.sort is sort:
                    label += " ▼" if reverse else " ▲"
                    style = "sorted"
                cells.append((column, column_width, label, style))
            strip = self._line(cells, base, width, header_sorted=sorted_style)
            self._line_cache[key] = strip
        return strip

    def _line(
        self,
        cells: list[tuple[Column, int, str, str]],
        base: Style,
        width: int,
        header_sorted: Style | None = None,
        margin: str = " ",
    ) -> Strip:
        segments = [Segment(margin.ljust(MARGIN), base)]
        gap = Segment(" " * GAP, base)
        for index, (column, column_width, text, style_text) in enumerate(cells):
            if index:
                segments.append(gap)
            text = column.cut(text, column_width)
            text = text.rjust(column_width) if column.right else text
            if header_sorted is not None:
                style = base + header_sorted if style_text else base
            else:
                style = base + self._style(style_text) if style_text else base
            segments.append(Segment(set_cell_size(text, column_width), style))
        # Every cell is exactly its column's width, so the line's length is known: pad it
        # here rather than have a second Strip measure and pad it.
        used = MARGIN + sum(cell[1] for cell in cells) + GAP * max(len(cells) - 1, 0)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        # One segment per run of one style (the margin, the gaps and plain cells share the
        # base style): the terminal is sent the style of every segment, ~40 bytes each, so
        # a full table of 36 rows took 22 KB instead of 10, and Textual's compositor works
        # per segment too.
        line = Strip(Segment.simplify(segments), max(used, width))
        return line.crop(0, width) if used > width else line
