# The two commands in the README: `make demo` and `make test`. Both set themselves up from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TS_STAMP := ts-client/node_modules/.installed-stamp

.PHONY: demo test test-python test-ts test-tauri setup

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

# Every suite, even after one fails, then a verdict: the last lines say what passed and failed in each.
test: $(STAMP)
	@$(PY) tests/run_suites.py \
		"pytest (tests/)" "$(MAKE) --no-print-directory test-python" \
		"TypeScript (ts-client/)" "$(MAKE) --no-print-directory test-ts" \
		"Tauri app (examples/tauri-app/)" "$(MAKE) --no-print-directory test-tauri"

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

# The example Tauri app (examples/tauri-app). `make tauri-app` builds it as a user would ship it;
# `make test-tauri` builds it with the end-to-end hooks (cargo feature e2e) and test page and runs its eleven
# scenarios for real under Xvfb (examples/tauri-app/tests). Both install what they need: the Debian packages
# the build links against (apt only when one is missing), the page's npm packages, the crates. Cargo's target
# directory is outside the clone, so a fresh clone on the same machine (CI) rebuilds incrementally; the app is
# $(CARGO_TARGET_DIR)/release/process-sidecar-tauri-app. --release: the build a user ships, and the one whose
# IPC throughput is measured (issue #13); cold it takes about 7 minutes here, warm seconds.
TAURI_APP := examples/tauri-app
CARGO_TARGET_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/process-sidecar/cargo-target
CARGO ?= $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)
TAURI_APT_PACKAGES := libwebkit2gtk-4.1-dev build-essential pkg-config xvfb
TAURI_NPM_STAMP := $(TAURI_APP)/node_modules/.installed-stamp
TAURI_CARGO_BUILD = cd $(TAURI_APP)/src-tauri && CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) $(CARGO) build --release --locked
.PHONY: tauri-system-deps tauri-prerequisites tauri-app tauri-app-e2e bench-tauri

tauri-system-deps:
	@missing=$$(for p in $(TAURI_APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(TAURI_NPM_STAMP): $(TAURI_APP)/package.json $(TAURI_APP)/package-lock.json
	cd $(TAURI_APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The client's dist (the page imports it as file:../../ts-client), the page's packages, and the one-file
# sidecar with the app's scope baked in, as src-tauri/binaries/process-sidecar-<triple>.
tauri-prerequisites: tauri-system-deps $(STAMP) $(TS_STAMP) $(TAURI_NPM_STAMP)
	cd ts-client && npm run --silent build
	cd $(TAURI_APP) && npm run --silent typecheck
	$(PY) -m sidecar.bundle --out $(TAURI_APP)/src-tauri/binaries --scope $(TAURI_APP)/src-tauri/sidecar-scope.toml --reuse

tauri-app: tauri-prerequisites
	cd $(TAURI_APP) && npm run --silent build
	$(TAURI_CARGO_BUILD)

# The test build: the e2e hooks and the benchmark's (feature bench includes e2e), both test pages. One build for
# test-tauri and bench-tauri, so that switching between them rebuilds nothing.
tauri-app-e2e: tauri-prerequisites
	cd $(TAURI_APP) && npm run --silent build:e2e
	$(TAURI_CARGO_BUILD) --features bench

test-tauri: tauri-app-e2e
	TAURI_APP_BIN=$(CARGO_TARGET_DIR)/release/process-sidecar-tauri-app $(PY) -m pytest $(TAURI_APP)/tests

# Issue #13: plugin-shell directly against the sidecar, inside the app (README, Performance): prints the table,
# writes examples/tauri-app/bench/results/latest.json. BENCH_TAURI_ARGS: e.g. --rounds 7, --only text,echo.
# Not part of `make test`; its smoke run is (tests/test_tauri_bench.py).
bench-tauri: tauri-app-e2e
	TAURI_APP_BIN=$(CARGO_TARGET_DIR)/release/process-sidecar-tauri-app $(PY) $(TAURI_APP)/bench/bench_tauri.py $(BENCH_TAURI_ARGS)
