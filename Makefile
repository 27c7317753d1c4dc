# Two entry points: `make run` and `make test`. Each builds .venv from requirements.lock (exact versions, with hashes)
# when it is missing or when the lock or pyproject.toml is newer than it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# pip-tools version that writes the lock, pinned so the lock's format does not drift between machines
PIP_TOOLS := pip-tools==7.6.2
# extra pip-compile options for `make lock`, e.g. LOCK_ARGS=--upgrade or LOCK_ARGS="--upgrade-package aiohttp"
LOCK_ARGS ?=

.PHONY: run test demo lint ruff typecheck lock clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snpd run

demo: $(STAMP)
	$(BIN)/snpd demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# ruff, then mypy strict over the packages named in pyproject.toml's [tool.mypy] files
lint: ruff typecheck

ruff: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Regenerates the lock from pyproject.toml with pip-tools in a throwaway venv. Versions already in the lock are kept
# unless pyproject.toml rules them out or LOCK_ARGS asks for upgrades. The file is replaced only when it changed, so an
# unchanged lock does not make the next `make` reinstall the venv.
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/pip" install --quiet "$(PIP_TOOLS)" && \
	if [ -f $(LOCK) ]; then cp $(LOCK) "$$tmp/lock"; fi && \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
		--strip-extras --all-build-deps --no-emit-index-url --no-emit-find-links --extra dev $(LOCK_ARGS) \
		-o "$$tmp/lock" pyproject.toml && \
	if cmp -s "$$tmp/lock" $(LOCK); then echo "$(LOCK) unchanged"; else cp "$$tmp/lock" $(LOCK); fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
