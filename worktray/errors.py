"""Errors the ``worktray`` command turns into one line on stderr and an exit status."""

from __future__ import annotations


class StartupError(Exception):
    """Why worktray cannot start (or a command cannot go on: ``worktray.db_errors``), in one line
    for stderr; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
