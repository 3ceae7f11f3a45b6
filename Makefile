# The two commands of the quick start. Each installs what is missing, then does its work.
#   make run    set up, then build the sample batch into output/2020/
#   make test   set up (with development packages), then run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast bench lint docs format system-deps system-deps-test sample-data template clean

run: system-deps $(VENV)/.installed
	$(BIN)/letter-merge build

test: system-deps-test $(VENV)/.installed-dev
	$(BIN)/ruff check letter_merge tests scripts benchmarks
	$(BIN)/mypy
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest -n $(WORKERS) -m "$(FAST)"
	$(BIN)/python -m pytest -m "not ($(FAST))"

# The edit-test loop: no LibreOffice, no browser, no benchmark. One worker more than the cores:
# many tests wait on a subprocess or a local server, and the extra worker fills that time. Measured
# alone on this 2-core machine, second run: 65 s and 112 s of CPU for 816 tests (3 workers), where
# two workers took 77 s. The LibreOffice tier runs on one: each conversion already keeps a core busy.
WORKERS := $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
FAST := not libreoffice and not browser and not bench
test-fast: $(VENV)/.installed-dev
	$(BIN)/ruff check letter_merge tests scripts benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(WORKERS) -m "$(FAST)"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check letter_merge tests scripts benchmarks
	$(BIN)/ruff format --check letter_merge tests scripts benchmarks
	$(BIN)/mypy
	$(MAKE) --no-print-directory docs

# The manual (docs/) into build/docs/, strictly: every warning an error (a broken link or
# reference, a page in no table of contents), the command reference generated from the commands.
docs: $(VENV)/.installed-dev
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs build/docs

format: $(VENV)/.installed-dev
	$(BIN)/ruff format letter_merge tests scripts benchmarks
	$(BIN)/ruff check --fix letter_merge tests scripts benchmarks

# LibreOffice (PDF conversion) and the letters' fonts: from the system's packages.
system-deps:
	@sh scripts/install-system-deps.sh

# The tests also open the proof page in a real browser.
system-deps-test:
	@sh scripts/install-system-deps.sh --with-browser

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

# Regenerate the committed sample workbook and default template (deterministic; only needed after
# changing the scripts).
sample-data: $(VENV)/.installed
	$(BIN)/python scripts/make_sample_workbook.py

template: $(VENV)/.installed
	$(BIN)/python scripts/make_default_template.py
	$(BIN)/python scripts/make_email_template.py

clean:
	rm -rf $(VENV) output/*/

# Speed and memory of the build, against one LibreOffice start per letter (several minutes).
bench: system-deps $(VENV)/.installed
	$(BIN)/python benchmarks/bench.py
