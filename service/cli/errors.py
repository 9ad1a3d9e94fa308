"""Errors a command raises to fail with a one-line message (exit code 1)."""


class CommandFailed(Exception):
    """A command could not do its job; the message is shown to the user as one line."""
