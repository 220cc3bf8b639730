"""`worktray run` without Slack: wire the console adapter to a store and an organisation.

``bot.console`` is the adapter (it reads lines and prints cards); this module is
where it is wired, as ``worktray`` wires every adapter: the store at
DATABASE_URL, the demo cases when the organisation is the demo one, and a
``ConsoleSender`` printing to the terminal.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from bot.console import ConsoleSender, converse, safe_output
from workflows.clock import Clock
from workflows.org import Organisation, load_organisation
from worktray import demo
from worktray.bootstrap import build, warn_about_config
from worktray.settings import Settings


def is_demo(org: Organisation) -> bool:
    """The fictitious demo organisation (worktray/demo/org.yml), and no other."""
    return org == load_organisation(demo.DEMO_ORG)


def serve_console(
    settings: Settings,
    org: Organisation,
    script: Path | None = None,
    *,
    clock: Clock | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """The store at DATABASE_URL, the demo cases when the organisation is the demo
    one, then a script, piped stdin, or a terminal session."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # keep the terminal for the conversation
    out = safe_output(out or sys.stdout)
    stdin = stdin or sys.stdin
    if script is not None and not script.is_file():
        out.write(f"worktray: there is no script file {script}\n")
        return 2
    app = build(settings.database_url, org, ConsoleSender(org, out), clock)
    if is_demo(org):
        with app.uow() as uow:
            demo.seed(uow)
    warn_about_config(app)
    lines = script.read_text(encoding="utf-8").splitlines() if script is not None else None
    return converse(app, out, stdin, lines)
