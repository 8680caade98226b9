"""The project's exception hierarchy.

Every error raised on purpose by SPU Monitor derives from :class:`MonitorError`::

    MonitorError
     ├─ ConfigError               (a unit file or setting; raised before any I/O)
     ├─ InvalidValue              (also ValueError; a value a person gave; names the field)
     ├─ RuleError                 (an alarm rule setting; names the setting)
     ├─ BaselineError             (no baseline can be made from the data)
     ├─ UnknownAlarmError         (also LookupError; no active alarm has that id)
     ├─ StoreError                (the database cannot be opened, migrated or read)
     ├─ AuthError                 (a user, password or token is missing or wrong)
     │   └─ AccessDenied          (signed in, but the role does not allow it)
     ├─ RecordError               (a request that does not fit the patient's records)
     │   ├─ RecordNotFound        (also LookupError; no such patient, course, session)
     │   ├─ AdmissionError        (a session step that does not fit the bed's state)
     │   └─ ChartError            (charted content that is invalid; names the field)
     └─ DriverError
         ├─ UnknownProtocolError      (also LookupError)
         ├─ DriverUnavailableError    (import or platform problem)
         ├─ DeviceOpenError           (port missing or busy; retryable)
         ├─ DeviceDisconnected        (ends iteration abnormally; retryable)
         └─ FrameError                (also ValueError; recoverable, never escapes a Device)

An error about one input names it in :attr:`MonitorError.field` (a dotted path such as
``detail.dose_mg`` or ``rules.SPO2_LOW.threshold``), so the API can answer with the field
at fault. Bad arguments to a function (a programming error) stay plain ``ValueError`` /
``TypeError``; the API answers those with a 500, never as a client error.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error SPU Monitor raises on purpose.

    Args:
        message: what is wrong, for a person.
        field: the input at fault, as a dotted path, when one input is.
    """

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigError(MonitorError):
    """The configuration is invalid.

    Examples: a unit file names an unknown protocol, two beds share a port, a setting is out
    of range. Raised at start-up, before any I/O.
    """


class InvalidValue(MonitorError, ValueError):
    """A value a person gave is invalid: an unknown role, a password too short.

    Raised by the core where the value is checked, whoever sends it (API, command line).
    """


class RuleError(MonitorError):
    """An alarm rule or its parameters are invalid (a negative delay, an unknown rule id)."""


class BaselineError(MonitorError):
    """A baseline cannot be set: too little valid pre-infusion data to compute one."""


class UnknownAlarmError(MonitorError, LookupError):
    """No active alarm has that id (it may have ended)."""


class StoreError(MonitorError):
    """The database cannot be opened, migrated or written, or what it holds is corrupt.

    Examples: a migration fails; a stored waveform block is truncated or fails its checksum.
    """


class AuthError(MonitorError):
    """A user, password or token is missing or wrong."""


class AccessDenied(AuthError):
    """The user is signed in but their role does not allow the action."""


class RecordError(MonitorError):
    """A request that does not fit the patient's records."""


class RecordNotFound(RecordError, LookupError):
    """No patient, course, session or charted entry has that id."""


class AdmissionError(RecordError):
    """A session step that does not fit the bed's state: no patient, infusion not started,
    the bed already taken."""


class ChartError(RecordError):
    """A charted event whose content is invalid (a pain score of 11, an unknown drug)."""


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


class FrameError(DriverError, ValueError):
    """Bytes that do not form a valid frame: a bad checksum, a truncated or garbled line.

    Codecs count and skip such frames; the error never ends a device's stream.
    """
