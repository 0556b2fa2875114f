"""User-facing errors: the CLI prints their message on one line, without a traceback, and exits with a status."""

from __future__ import annotations


class VlkitError(Exception):
    """An error caused by the user's input (data, config, arguments), with a message that says what to fix."""


class InvalidValue(VlkitError):
    """A config value outside what its key allows; the config loader names the section of `key`."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"invalid value {key}={value!r}: must be {allowed}")

    def in_section(self, section: str) -> "InvalidValue":
        """The same error with the key prefixed by its config section (`batch_size` -> `data.batch_size`)."""
        return InvalidValue(f"{section}.{self.key}", self.value, self.allowed)


class Interrupted(Exception):
    """Work stopped by a signal (SIGTERM from a cluster, Ctrl-C); `exit_code` is 128 + the signal number."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
