"""The endpoints file: TOML, read strictly, written back with the user's comments intact.

``load`` reads and validates it (tomllib), ``edit`` changes its tomlkit document in small,
comment-preserving steps, ``store`` renders and writes it atomically.
"""

from bidi_tui.config.edit import ConfigEditor, endpoint_table
from bidi_tui.config.load import (
    APP_NAME,
    CONFIG_FILE_NAME,
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULTS_KEYS,
    ENDPOINT_KEYS,
    MAX_TIMEOUT,
    MIN_INTERVAL,
    RESERVED_HEADERS,
    Config,
    ConfigError,
    Defaults,
    default_config_path,
    load_config,
    parse_entry,
    with_defaults,
)
from bidi_tui.config.store import NEW_FILE_HEADER, ConfigSaveError, render, save_config

__all__ = [
    "APP_NAME",
    "CONFIG_FILE_NAME",
    "DEFAULTS_KEYS",
    "DEFAULT_INTERVAL",
    "DEFAULT_TIMEOUT",
    "ENDPOINT_KEYS",
    "MAX_TIMEOUT",
    "MIN_INTERVAL",
    "NEW_FILE_HEADER",
    "RESERVED_HEADERS",
    "Config",
    "ConfigEditor",
    "ConfigError",
    "ConfigSaveError",
    "Defaults",
    "default_config_path",
    "endpoint_table",
    "load_config",
    "parse_entry",
    "render",
    "save_config",
    "with_defaults",
]
