"""The endpoints file: TOML, read strictly, written back with the user's comments intact.

``schema``: what it may hold and the check of each value; ``load``: reading it (tomllib)
into a :class:`Config`; ``edit``: changing its tomlkit document in small, comment-preserving
steps, with ``layout`` keeping comments and blank lines in place; ``store``: writing it
atomically; ``files``: the file-system side (no blocking reads, symlinks, temp files).
"""

from bidi_tui.config.edit import ConfigEditor
from bidi_tui.config.load import (
    APP_NAME,
    CONFIG_FILE_NAME,
    Config,
    default_config_path,
    load_config,
)
from bidi_tui.config.schema import (
    DEFAULTS_KEYS,
    ENDPOINT_KEYS,
    RESERVED_HEADERS,
    ConfigError,
    Defaults,
    parse_entry,
)
from bidi_tui.config.store import NEW_FILE_HEADER, ConfigSaveError, render, save_config

__all__ = [
    "APP_NAME",
    "CONFIG_FILE_NAME",
    "DEFAULTS_KEYS",
    "ENDPOINT_KEYS",
    "NEW_FILE_HEADER",
    "RESERVED_HEADERS",
    "Config",
    "ConfigEditor",
    "ConfigError",
    "ConfigSaveError",
    "Defaults",
    "default_config_path",
    "load_config",
    "parse_entry",
    "render",
    "save_config",
]
