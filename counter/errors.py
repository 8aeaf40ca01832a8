"""The project's exceptions: one base class, one subclass per outcome a caller can act on.

Scripts return a status first; ``engine/scripts.py`` maps each status to one of these, and
``web/errors.py`` maps each of these to one HTTP response.
"""

from __future__ import annotations


class CounterError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CounterError):
    """Invalid configuration, reported once at start-up."""


class InvalidInput(CounterError):
    """A request argument is malformed or out of range (HTTP 400)."""


class CounterNotFound(CounterError):
    """The counter does not exist (or has expired)."""


class CounterExists(CounterError):
    """A counter with this namespace and key already exists."""


class OutOfBounds(CounterError):
    """The amount lies outside the counter's update bounds; nothing changed."""

    def __init__(self, value: int) -> None:
        super().__init__(f"amount outside the update bounds (value {value})")
        self.value = value


class Overflow(CounterError):
    """The increment would leave the signed 64-bit range; nothing changed."""

    def __init__(self, value: int) -> None:
        super().__init__(f"increment would overflow a signed 64-bit integer (value {value})")
        self.value = value


class ResetDisabled(CounterError):
    """``set`` on a counter created without ``enable_reset``; nothing changed."""

    def __init__(self, value: int) -> None:
        super().__init__("this counter was created without enable_reset")
        self.value = value
        self.old_value = value


class StoreUnavailable(CounterError):
    """Redis cannot be reached right now (HTTP 503); the operation may be retried."""


class StoreError(CounterError):
    """Redis answered with something the engine did not expect (a bug, HTTP 500)."""


class TokenNameTaken(CounterError):
    """``counter token create`` with a name another token already has."""
