"""The core: rules and state machines for requests, closure, the virtual worker.

Nothing here imports a chat platform or opens a database session: every
handler is given a unit of work (``store.uow``) and a ``Context`` (the
organisation config and a clock).
"""
