# The two commands of the README, and the ones that keep the project clean.
# Each target creates or reuses .venv and installs the pinned versions in constraints.txt, each file
# checked against its sha256 there (--require-hashes), then the project itself without dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck docs lock clean bench

# In hash-checking mode pip accepts only pinned, hashed requirements, so the lock is installed as a
# requirements file and the project (editable, unhashable) after it with --no-deps; `pip check` then
# fails if pyproject.toml names a dependency the lock lacks (run `make lock`).
$(STAMP): pyproject.toml constraints.txt scripts/bootstrap_venv.py
	$(PYTHON) scripts/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	touch $(STAMP)

## Run the forwarder on its embedded default: the Cloudflare simulator into out/demo-events.ndjson.
demo: $(STAMP)
	$(BIN)/cloudflare-siem-forwarder demo
	@echo "The command is $(BIN)/cloudflare-siem-forwarder; to type it as cloudflare-siem-forwarder, run: . $(BIN)/activate"

## Run every test (unit and integration), then lint and type checks. Exit code 5 (no tests) fails.
test: $(STAMP)
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	  exit $$status
	$(MAKE) --no-print-directory lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check forwarder fakes tests benchmarks scripts
	$(BIN)/ruff format --check forwarder fakes tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

## End-to-end benchmark against peers (needs, as root, scripts/install-syslog-receivers.sh and
## scripts/install-bench-tools.sh). BENCH_ARGS=--quick for a short run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.e2e $(BENCH_ARGS)

## Regenerate from the settings models the variable reference (docs/configuration.md) and the chart schema's
## variable list, then build the documentation site from docs/ into docs/_build/html (Sphinx with MyST;
## any warning, such as a broken link, fails).
docs: $(STAMP)
	$(BIN)/cloudflare-siem-forwarder env-reference --update docs/configuration.md
	$(BIN)/python scripts/chart_env_schema.py
	$(BIN)/python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

## Re-pin every dependency with hashes (after changing pyproject.toml): constraints.txt for the dev venv
## (extras dev and bench), constraints-runtime.txt for the image (no extras, the same versions).
## `uv pip compile` keeps the versions already pinned there; UPGRADE=--upgrade re-pins to the newest.
# --universal: one lock for every platform and Python >= 3.11 (markers instead of this machine's answer),
# so the image on linux amd64 and arm64 and any developer's venv install the same list; --generate-hashes
# writes the sha256 of every file PyPI has for each pinned version (all wheels and the sdist).
# Needs only a venv with pip (not $(STAMP), which fails until the lock names every dependency).
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes
LOCK_DEV := pyproject.toml --extra dev --extra bench
LOCK_RUNTIME := pyproject.toml --constraint constraints.txt
lock:
	$(PYTHON) scripts/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile $(LOCK_DEV) $(LOCK_FLAGS) $(UPGRADE) --no-header --quiet -o constraints.txt
	$(BIN)/uv pip compile $(LOCK_RUNTIME) $(LOCK_FLAGS) $(UPGRADE) --no-header --quiet -o constraints-runtime.txt
	{ printf '%s\n' \
	    '# Every dependency of the dev venv (pyproject.toml with the extras dev and bench), pinned, with the' \
	    '# sha256 of every file PyPI has for each version. Made by `make lock` (uv $(UV_VERSION)); do not edit:' \
	    '#   uv pip compile $(LOCK_DEV) $(LOCK_FLAGS) -o constraints.txt' \
	    '# `make` installs it with `pip install --require-hashes -r constraints.txt`, then the project with --no-deps.'; \
	  cat constraints.txt; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	{ printf '%s\n' \
	    '# The dependencies of the image (pyproject.toml without extras) at the versions of constraints.txt, with' \
	    '# the sha256 of every file PyPI has for each version. Made by `make lock` (uv $(UV_VERSION)); do not edit:' \
	    '#   uv pip compile $(LOCK_RUNTIME) $(LOCK_FLAGS) -o constraints-runtime.txt' \
	    '# The Dockerfile fetches and installs it with `pip ... --require-hashes -r constraints-runtime.txt`.'; \
	  cat constraints-runtime.txt; } > constraints-runtime.txt.new && mv constraints-runtime.txt.new constraints-runtime.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis out
