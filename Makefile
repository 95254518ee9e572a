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

test: test-python test-ts test-tauri

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

# The example Tauri app (examples/tauri-app) run for real under Xvfb, with the end-to-end page and harness
# (examples/tauri-app/tests). It installs what it needs: the Debian packages Tauri needs on Linux (apt only
# when one is missing), the page's npm packages, the crates. Cargo's target directory is outside the clone,
# so a fresh clone on the same machine (CI) rebuilds incrementally; the app binary is
# $(CARGO_TARGET_DIR)/release/process-sidecar-tauri-app. --release: the build a user ships, and the one whose
# IPC throughput is measured (issue #13).
TAURI_APP := examples/tauri-app
CARGO_TARGET_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/process-sidecar/cargo-target
CARGO ?= $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)
TAURI_APT_PACKAGES := libwebkit2gtk-4.1-dev build-essential pkg-config xvfb
TAURI_NPM_STAMP := $(TAURI_APP)/node_modules/.installed-stamp
.PHONY: tauri-system-deps tauri-app

tauri-system-deps:
	@missing=$$(for p in $(TAURI_APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(TAURI_NPM_STAMP): $(TAURI_APP)/package.json $(TAURI_APP)/package-lock.json
	cd $(TAURI_APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The app with the end-to-end hooks (cargo feature e2e) and page; the sidecar inside it with the app's scope.
tauri-app: tauri-system-deps $(STAMP) $(TS_STAMP) $(TAURI_NPM_STAMP)
	cd ts-client && npm run --silent build
	cd $(TAURI_APP) && npm run --silent typecheck && npm run --silent build:e2e
	$(PY) -m sidecar.bundle --out $(TAURI_APP)/src-tauri/binaries --scope $(TAURI_APP)/src-tauri/sidecar-scope.toml --reuse
	cd $(TAURI_APP)/src-tauri && CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) $(CARGO) build --release --locked --features e2e

test-tauri: tauri-app
	TAURI_APP_BIN=$(CARGO_TARGET_DIR)/release/process-sidecar-tauri-app $(PY) -m pytest $(TAURI_APP)/tests
