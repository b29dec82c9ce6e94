"""Office configuration: one TOML file per office in this folder, loaded by ``load_office``.

``fields``: how each kind of setting is read; ``offices``: the settings of a branch
and of the Head Office; ``loader``: files and environment variables to settings.
"""
from config.fields import ConfigError, SyncWindow, redact_url
from config.loader import load_office
from config.offices import BranchConfig, HeadOfficeConfig, OfficeConfig

__all__ = ["BranchConfig", "ConfigError", "HeadOfficeConfig", "OfficeConfig", "SyncWindow", "load_office", "redact_url"]
