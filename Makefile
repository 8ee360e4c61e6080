# The two commands a newcomer runs: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint typecheck pytest pg-deps nbval browser browser-deps bench soak readme-picture labextension clean

# The prebuilt labextension is installed as shared data: reinstall when it changes.
$(STAMP): pyproject.toml aurous_nb/labextension/package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev,video]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --out build

lint: $(STAMP)
	$(BIN)/ruff check aurous_nb tests bench scripts
	$(BIN)/ruff format --check aurous_nb tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Test files run on two workers (pytest-xdist), a whole file per worker so module fixtures hold.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) pg-deps
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --ignore=tests/browser

# Notebooks run against the sandbox, each with its own throwaway ledger (never the user's own),
# so what one shows does not depend on what another bought before it.
nbval: $(STAMP)
	@for nb in notebooks/*.ipynb; do \
		AUROUS_NB_HOME=$$(mktemp -d) $(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env \
			--nbval-sanitize-with notebooks/sanitize.cfg "$$nb" || exit 1; done

test: lint typecheck pytest nbval browser

# Benchmarks print ratios measured in one run; each ends with one machine-readable line.
bench: $(STAMP) pg-deps
	@for b in sandbox_rps client_overhead import_time history team_history grid; do \
		echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

# The team-ledger tests (tests/team) start a throwaway PostgreSQL cluster with Debian's server.
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) $(shell command -v initdb))
pg-deps:
	@test -n "$(PG_BIN)" || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql >/dev/null; fi; }

# The browser test drives Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

browser: $(STAMP) browser-deps
	@if [ -d tests/browser ]; then $(BIN)/pytest -q -p no:cacheprovider tests/browser; \
	else echo "browser: no browser tests yet"; fi

# The long reliability run (~6 min): regenerates RELIABILITY.md, ends with one `soak:` line.
soak: $(STAMP)
	$(BIN)/python scripts/soak.py

# The README's picture, rebuilt from the browser test's real screenshots.
readme-picture: browser
	$(BIN)/python scripts/readme_picture.py

# Rebuilds the JupyterLab extension (labextension/ -> aurous_nb/labextension/, committed) with npm
# and node 20+, stamps it (tests/test_labextension.py checks the stamp) and reinstalls it in the
# venv. `make test` never runs npm: it uses the committed build.
labextension: $(STAMP)
	cd labextension && npm ci --no-audit --no-fund && npx tsc && \
		PATH="$(abspath $(BIN)):$$PATH" jupyter-builder build .
	$(BIN)/python scripts/labextension_stamp.py --write
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev,video]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
