# Two entry points: `make demo` plans the shipped example, `make test` runs the suite.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The bench extra (regorus) is installed too: the test suite runs the benchmark at 1,000 users.
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/safeguard plan --snapshot examples/m365-snapshot.json --params examples/params.yaml --now 2026-12-01T00:00:00Z; \
	status=$$?; if [ $$status -eq 1 ]; then exit 1; fi

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info

# `make bench` compares safeguard with regorus and hand-written Python at 1,000,
# 10,000 and 100,000 users, and plans 1,000 tenants of 50 users (several minutes);
# docs/benchmarks.md explains the output. Generated snapshots stay in bench/out/.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run bench/out/results.json
