# The project's interface. `make install` once (or let `make test` do it), then `make demo`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PY_DIRS := $(wildcard bench common feeder forwarder gateway harness launcher monitoring simulator loadtest tests)

.PHONY: help install test lint format clean demo run bench-http bench-latency bench-stream bench-writer bench-history bench-reprice bench-cache bench-compose bench-faults bench-gray bench screenshots

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt package-lock.json scripts/install-system.sh
	scripts/install-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,ops,loadtest]'
	npm install --no-audit --no-fund --loglevel=error  # dbmate, pinned in package.json and the lock
	touch $@

install: $(STAMP)  ## create .venv and install everything the project needs (system packages too)

test: $(STAMP)  ## install what is missing, then run the whole suite
	$(BIN)/pytest

# PROMETHEUS=1 also runs Prometheus (Debian's package) on 127.0.0.1:9090.
STACK_FLAGS := $(if $(PROMETHEUS),--prometheus,)

demo: $(STAMP)  ## the whole stack on 127.0.0.1 against the exchange simulator (Ctrl-C stops it)
	$(BIN)/python -m launcher demo $(STACK_FLAGS)

run: $(STAMP)  ## the whole stack on 127.0.0.1 against the real exchanges (Ctrl-C stops it)
	$(BIN)/python -m launcher run $(STACK_FLAGS)

bench-http: $(STAMP)  ## one replica's requests/s against a bare FastAPI app (200 and 304)
	$(BIN)/python -m bench.http_ratio --seconds 10

bench-latency: $(STAMP)  ## from the simulator sending a price to the API showing it
	$(BIN)/python -m bench.latency --seconds 30

bench-faults: $(STAMP)  ## how the feeders ride out each exchange fault, against real processes
	$(BIN)/python -m bench.faults

bench-stream: $(STAMP)  ## the courses stream through HAProxy at 1,000 / 4,000 / 8,000 streams
	$(BIN)/python -m bench.stream --streams 1000 4000 8000 --seconds 60

bench-gray: $(STAMP)  ## gray failures (frozen and slow processes) through HAProxy under load
	$(BIN)/python -m bench.gray

bench-writer: $(STAMP)  ## the tick writer's throughput into Postgres and its buffer's memory
	$(BIN)/python -m bench.writer --ticks 200000 --batch 1000 5000 20000

# HISTORY_FLAGS=--keep keeps the 20.7M-row database (ratewire_bench_history); --reuse measures it again.
bench-history: $(STAMP)  ## 30 days of served values in Postgres: candles and point lookups, p99
	$(BIN)/python -m bench.history --days 30 --queries 300 $(HISTORY_FLAGS)

bench-reprice: $(STAMP)  ## what one tick costs a gateway: re-pricing (with the guard) and rendering
	$(BIN)/python -m bench.reprice --ticks 20000 --rounds 5

# make bench: DURATION (s), USERS, USER_RPS (each user's pace, 0: flat out), CACHE (on/off),
# FAULTS (1: cut Binance for 20 s and kill gateway-1 during the run; empty: none),
# STREAMERS (clients holding the courses stream open besides the users; empty: none).
DURATION ?= 60
USERS ?= 100
USER_RPS ?= 17
CACHE ?= on
FAULTS ?= 1

bench: $(STAMP)  ## locust through HAProxy against the native stack; reports in loadtest/results/
	$(BIN)/python -m loadtest.run --duration $(DURATION) --users $(USERS) \
		--user-rps $(USER_RPS) --cache $(CACHE) $(if $(FAULTS),--faults,) \
		$(if $(STREAMERS),--streamers $(STREAMERS),)

screenshots: $(STAMP)  ## the README's screenshots of locust and HAProxy, from a real run
	$(BIN)/python -m loadtest.screenshots

bench-cache: $(STAMP)  ## requests/s through HAProxy with its cache on and off
	$(BIN)/python -m bench.haproxy_cache --seconds 10 --rounds 3

bench-compose: $(STAMP)  ## Docker Compose on this machine's engine: cold and warm up --build, a code change
	$(BIN)/python -m bench.compose --rounds 3

lint: $(STAMP)  ## black, isort, pylint and mypy, as CI runs them
	$(BIN)/black --check $(PY_DIRS)
	$(BIN)/isort --check-only $(PY_DIRS)
	$(BIN)/pylint $(PY_DIRS)
	$(BIN)/mypy  # every Python directory, as pyproject.toml's [tool.mypy] lists them

format: $(STAMP)  ## rewrite the code with black and isort
	$(BIN)/black $(PY_DIRS)
	$(BIN)/isort $(PY_DIRS)

clean:  ## remove the virtualenv, node_modules and run-time state (the private database too)
	rm -rf $(VENV) node_modules "$$(readlink -f run/pg)" run
