# worktray: two commands do all the set-up on a fresh clone (Python 3.11+ and make).
#   make run    the bot (console adapter on SQLite with a demo organisation when no Slack tokens are set)
#   make test   the whole test suite (SQLite and, when reachable, PostgreSQL)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench db-upgrade reset-demo clean lock

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "worktray needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# Re-pin constraints.txt (what CI tests and councils install) to the newest versions
# pyproject.toml's ranges allow, in a scratch environment.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[test]'
	{ sed -n '1,3p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock

run: $(STAMP)
	$(VENV)/bin/worktray run $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

db-upgrade: $(STAMP)
	$(VENV)/bin/worktray db upgrade

# Start the console demo again. Refuses unless the organisation is the demo one and
# the database holds the demo's fictitious people only (never a council's data).
reset-demo: $(STAMP)
	$(VENV)/bin/worktray demo reset

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
