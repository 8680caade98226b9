"""The wiring: one running service made of the live parts, and the actions nurses take."""

from monitor.service.service import Service

__all__ = ["Service"]
