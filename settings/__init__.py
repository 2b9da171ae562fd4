"""Process settings: One API's environment variables and flags as one frozen object."""

from settings.env import ENV_NAMES, IGNORED, VERSION, Settings, SettingsError, load_settings, parse_args

__all__ = ["ENV_NAMES", "IGNORED", "VERSION", "Settings", "SettingsError", "load_settings", "parse_args"]
