"""worktray: the CLI, settings and the bootstrap that wires store, core and chat."""
