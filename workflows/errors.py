"""Errors the core raises; each carries a message fit to show the user."""

from __future__ import annotations


class ConfigError(Exception):
    """The organisation config is invalid; the message names the file and line. (Here, not in
    ``workflows.org``, so that the CLI can catch it without importing the config's parser.)"""


class WorkflowError(Exception):
    """Something the user asked for cannot be done; ``str(e)`` says why, plainly."""


class NotAllowed(WorkflowError):
    """The person's roles in the organisation config do not allow this action."""


class IllegalTransition(WorkflowError):
    """The request is not in a state where this action makes sense."""


class Conflict(WorkflowError):
    """Someone else changed the request at the same moment; theirs won."""


class NotFound(WorkflowError):
    pass


class FieldErrors(WorkflowError):
    """Bad form input: a message per field, shown on the modal's fields."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
