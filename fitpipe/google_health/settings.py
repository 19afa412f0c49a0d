"""Settings of the Google Health API source: part of the one settings object, fitpipe.settings.Settings.

Google's real endpoints are the defaults; tests and staging point GOOGLE_HEALTH_API_BASE and the
GOOGLE_OAUTH_* URLs elsewhere. Secrets are SecretStr so that printing the object never shows them.
"""

from __future__ import annotations

from fitpipe.settings import Settings, get_settings, reset_settings_cache

__all__ = ["GoogleHealthSettings", "get_google_health_settings", "reset_google_health_settings"]

GoogleHealthSettings = Settings
get_google_health_settings = get_settings
reset_google_health_settings = reset_settings_cache
