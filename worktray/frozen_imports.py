"""Import a command's modules without the cyclic garbage collector, then freeze them (issue 9).

Importing SQLAlchemy and the models allocates some 50,000 long-lived objects:
classes, functions, tables, mappers. Python's cyclic collector runs every few
hundred allocations and, as the heap grows, walks more and more of them; at
``worktray case show``'s start it spent about 25 ms (a tenth of the 250 ms
goal) on objects that live until the process ends anyway. While the modules
import, the collector is off; afterwards ``gc.freeze()`` moves what exists
into the permanent generation, so later collections (the bot runs for weeks)
skip them. Nothing changes for reference counting: objects without cycles are
freed as before; the few cycles made while importing stay, as module state does.
This is Python's documented API (``gc.disable``, ``gc.freeze``), and the
collector is on again when the block ends, as it was before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_imports() -> Iterator[None]:
    """Run the block (imports) with the collector off, then freeze every tracked object and switch the collector back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
