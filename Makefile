# The two commands of the README, and the ones that keep the project clean.
# Each target creates or reuses .venv and installs the pinned versions in constraints.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck docs lock clean bench

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap_venv.py
	$(PYTHON) scripts/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

## Run the forwarder on its embedded default: the Cloudflare simulator into out/demo-events.ndjson.
demo: $(STAMP)
	$(BIN)/cloudflare-siem-forwarder demo

## Run every test (unit and integration), then lint and type checks. Exit code 5 (no tests) fails.
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	  exit $$status
	$(MAKE) --no-print-directory lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check forwarder tests benchmarks scripts
	$(BIN)/ruff format --check forwarder tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

## End-to-end benchmark against peers (needs, as root, scripts/install-syslog-receivers.sh and
## scripts/install-bench-tools.sh). BENCH_ARGS=--quick for a short run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.e2e $(BENCH_ARGS)

## Regenerate the environment variable reference in README.md from the settings models.
docs: $(STAMP)
	$(BIN)/cloudflare-siem-forwarder env-reference --update-readme README.md

## Re-pin every dependency (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 -o constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis out
