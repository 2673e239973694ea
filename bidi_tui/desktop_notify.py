"""Desktop notifications without a notification server: escape sequences the terminal turns
into a notification. Off unless asked for; terminals that do not know them ignore them.

- OSC 777: ``ESC ] 777 ; notify ; TITLE ; BODY BEL`` (rxvt-unicode, foot, Ghostty, ...);
- OSC 9: ``ESC ] 9 ; TEXT BEL`` (iTerm2, ConEmu, ...), one text only.

The text is made safe first (:func:`~bidi_tui.untrusted.one_line`): no ESC, BEL or C1
control can end the sequence early or start another. Inside tmux a sequence reaches the
outer terminal only through tmux's passthrough (``set -g allow-passthrough on``), which
:func:`desktop_notification` wraps it for with ``tmux=True``.
"""

from __future__ import annotations

from enum import StrEnum

from bidi_tui.untrusted import one_line

ESC = "\x1b"
BEL = "\x07"
TITLE_LIMIT = 60
BODY_LIMIT = 200


class NotifyProtocol(StrEnum):
    OSC777 = "osc777"
    OSC9 = "osc9"


def desktop_notification(
    title: str,
    body: str,
    protocol: NotifyProtocol = NotifyProtocol.OSC777,
    *,
    tmux: bool = False,
) -> str:
    """The escape sequence that asks the terminal to show ``title`` and ``body``."""
    safe_title = one_line(title, limit=TITLE_LIMIT)
    safe_body = one_line(body, limit=BODY_LIMIT)
    if protocol is NotifyProtocol.OSC777:
        # ';' separates the title from the body: one in the title would move the split.
        sequence = f"{ESC}]777;notify;{safe_title.replace(';', ',')};{safe_body}{BEL}"
    else:
        text = f"{safe_title}: {safe_body}" if safe_title else safe_body
        if text[:1].isdigit():
            # ConEmu reads "OSC 9 ; <digit> ;" as a command (progress, run a process, ...).
            text = f"bidi-tui: {text}"
        sequence = f"{ESC}]9;{text}{BEL}"
    if tmux:
        sequence = f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ESC}\\"
    return sequence
