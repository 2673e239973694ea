"""The BiDi ``session.status`` probe: one check of one endpoint, with an exact error taxonomy.

``transport`` runs the check on the websockets classes of ``connection``, ``resolve`` looks
host names up within its deadline, ``answer`` reads the answer, ``errors`` maps failures to
error kinds with hints. The result types live in :mod:`bidi_tui.model`.
"""

from bidi_tui.probe.answer import (
    MAX_MESSAGE_SIZE,
    MAX_SKIPPED_MESSAGES,
    StatusAnswer,
    interpret_message,
)
from bidi_tui.probe.transport import (
    CLOSE_GRACE,
    USER_AGENT,
    HeldConnection,
    probe,
)

__all__ = [
    "CLOSE_GRACE",
    "MAX_MESSAGE_SIZE",
    "MAX_SKIPPED_MESSAGES",
    "USER_AGENT",
    "HeldConnection",
    "StatusAnswer",
    "interpret_message",
    "probe",
]
