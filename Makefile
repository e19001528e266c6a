# One obvious command per job. Each target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint demo

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed  ## set up, upgrade the database and start the app on http://localhost:8501
	$(PY) -m funnel init-db
	$(PY) -m streamlit run app.py

test: $(VENV)/.installed  ## set up and run the whole test suite (PostgreSQL too when CRM_TEST_POSTGRES_URL is set)
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

demo: $(VENV)/.installed
	$(PY) -m funnel demo --leads 2000
