"""Office configuration: one TOML file per office in this folder, loaded by ``load_office``."""
from config.settings import ConfigError, OfficeConfig, SyncWindow, load_office, redact_url

__all__ = ["ConfigError", "OfficeConfig", "SyncWindow", "load_office", "redact_url"]
