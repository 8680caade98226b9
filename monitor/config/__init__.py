"""Settings (environment) and the unit file (beds, devices, site alarm settings)."""

from monitor.config.settings import (
    BedConfig,
    DeviceConfig,
    Settings,
    UnitConfig,
    database_url,
)

__all__ = ["BedConfig", "DeviceConfig", "Settings", "UnitConfig", "database_url"]
