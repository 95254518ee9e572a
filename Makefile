# The two commands in the README: `make demo` and `make test`. Both set themselves up from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TS_STAMP := ts-client/node_modules/.installed-stamp

.PHONY: demo test test-python test-ts setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bundle]'
	touch $@

$(TS_STAMP): ts-client/package.json ts-client/package-lock.json
	cd ts-client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP) $(TS_STAMP)
	cd ts-client && SIDECAR_PYTHON=$(CURDIR)/$(PY) npx --no-install tsx examples/demo.ts

test: test-python test-ts

test-python: $(STAMP)
	$(PY) -m pytest

test-ts: $(STAMP) $(TS_STAMP)
	cd ts-client && SIDECAR_PYTHON=$(CURDIR)/$(PY) npm test

# The self-contained sidecar binary for app bundles: $(BUNDLE_OUT)/process-sidecar-<target triple>.
# For Tauri: make bundle BUNDLE_OUT=path/to/src-tauri/binaries. BUNDLE_MODE=--onedir for a folder instead.
BUNDLE_OUT ?= dist
BUNDLE_MODE ?= --onefile
.PHONY: bundle
bundle: $(STAMP)
	$(PY) -m sidecar.bundle --out $(BUNDLE_OUT) $(BUNDLE_MODE)

# The benchmark against Node's own child_process (README, Performance): prints the table, writes
# ts-client/bench/results/latest.json. Not part of `make test`; a smoke run of it is.
.PHONY: bench
bench: $(STAMP) $(TS_STAMP)
	cd ts-client && SIDECAR_PYTHON=$(CURDIR)/$(PY) npm run bench
