# Two commands: `make run` (the API, its workers and a demo practice) and `make test` (the suite).
# With DATABASE_URL / REDIS_URL / STRIPE_API_KEY unset, both use the embedded stack under .data/.
# `make manage ARGS="..."` runs one management command on the running `make run` stack (or its own).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test manage lint bench clean-data

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(VENV)/bin/python -m infra.devstack run

test: $(STAMP)
	$(VENV)/bin/python -m infra.devstack test $(PYTEST_ARGS)

manage: $(STAMP)
	$(VENV)/bin/python -m infra.devstack manage $(ARGS)

# Every benchmark with a goal, then one table (figure, reference from the same run, goal, pass/fail).
bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-data:
	rm -rf .data
