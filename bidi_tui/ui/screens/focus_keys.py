"""Tab and Shift+Tab in dialogs."""

from __future__ import annotations

from textual.binding import Binding

# Priority bindings run as the key arrives, before the next key is handed to a widget:
# Tab typed ahead (a fast typist, a laggy SSH link) moves focus before what follows it is
# typed. As ordinary bindings they ran only once the field had taken its earlier keys,
# and the text after Tab went into the field Tab was leaving.
FOCUS_KEYS: tuple[Binding, ...] = (
    Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
)
