"""The project's exception hierarchy.

Every error raised on purpose by SPU Monitor derives from :class:`MonitorError`::

    MonitorError
     ├─ ConfigError
     ├─ RuleError
     ├─ StoreError
     ├─ AuthError
     └─ DriverError
         ├─ UnknownProtocolError      (also LookupError)
         ├─ DriverUnavailableError    (import or platform problem)
         ├─ DeviceOpenError           (port missing or busy; retryable)
         ├─ DeviceDisconnected        (ends iteration abnormally; retryable)
         ├─ DeviceTimeout             (also TimeoutError)
         └─ FrameError                (also ValueError; recoverable, never escapes a Device)

Bad arguments to a function stay plain ``ValueError`` / ``TypeError``.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error SPU Monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid.

    Examples: a unit file names an unknown protocol, two beds share a port, a setting is out
    of range. Raised at start-up, before any I/O.
    """


class RuleError(MonitorError):
    """An alarm rule or its parameters are invalid (a negative delay, an unknown rule id)."""


class StoreError(MonitorError):
    """The database cannot be opened, migrated or written, or what it holds is corrupt.

    Examples: a migration fails; a stored waveform block is truncated or fails its checksum.
    """


class AuthError(MonitorError):
    """A user, password or token is missing or wrong."""


class DriverError(MonitorError):
    """Base class of errors from device drivers."""


class UnknownProtocolError(DriverError, LookupError):
    """No protocol is registered under the given name (a typo in the unit file)."""


class DriverUnavailableError(DriverError):
    """A registered protocol cannot be loaded (its module fails to import)."""


class DeviceOpenError(DriverError):
    """The device's port cannot be opened: missing, busy, or refused. Retry later."""


class DeviceDisconnected(DriverError):
    """The device went away: cable unplugged, peer closed, I/O error. Retry later."""


class DeviceTimeout(DriverError, TimeoutError):
    """The device did not answer in time."""


class FrameError(DriverError, ValueError):
    """Bytes that do not form a valid frame: a bad checksum, a truncated or garbled line.

    Codecs count and skip such frames; the error never ends a device's stream.
    """
