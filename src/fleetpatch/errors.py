"""Errors a user can fix. The CLI prints them as one line and exits non-zero, no traceback."""


class UserError(Exception):
    """A mistake in config, arguments, credentials or permissions.

    The message is one line that says what is wrong and how to fix it.
    """

    exit_code = 2


class EnvironmentFailure(Exception):
    """One environment could not be read (credentials, access, endpoint); others may still work."""

    exit_code = 1

    def __init__(self, environment: str, message: str) -> None:
        super().__init__(f"{environment}: {message}")
        self.environment = environment
        self.message = message
