"""Logging a failure without personal data.

An exception's message can quote what it was working on: PostgreSQL's
"Failing row contains (…)" carries a whole row (a name, a date of birth), and a
validation error carries the value it refused. So a failure is logged as its
type and where it happened (file, line and function of each frame), which is
what an operator needs to report it, and never its message.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path


def where(exc: BaseException) -> str:
    """The frames of the exception, innermost first: ``deliver.py:120 _render_pending < …``."""
    frames = traceback.extract_tb(exc.__traceback__)
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)) or "?"


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    logger.error("%s: %s at %s", what, type(exc).__name__, where(exc))
