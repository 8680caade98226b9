"""The HTTP and WebSocket API (FastAPI) and the dashboard's pages."""

from monitor.api.app import create_app

__all__ = ["create_app"]
