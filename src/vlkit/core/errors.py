"""User-facing errors: the CLI prints their message without a traceback."""


class VlkitError(Exception):
    """An error caused by the user's input (data, config, arguments), with a message that says what to fix."""
