# Parterre's entry points. `make demo` and `make test` each work alone on a fresh clone: they install
# what is missing (uv, Python packages, Kafka jars, the FerretDB build) and start what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install tools infra-up infra-down infra-status topics up down status test test-unit lint format docs demo bench chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	@echo "installing uv $(UV_VERSION) (first run only)"
	@python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)"

# Where PYTHONDONTWRITEBYTECODE is set (as on some CI machines), every process would compile every module it imports
# at each start, about 1.4 s for a service: the packages are compiled as installed, the project's own modules by
# `install` (what changed since is compiled in memory, as before).
.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: .venv/.installed ## install the Python environment from the lock file
	@$(RUN) python -m compileall -q shared services demo bench infra >/dev/null

# promtool checks and tests the alert rules (Debian's prometheus package); the console's browser tests drive Debian's
# Chromium through Playwright, which downloads no browser of its own. First run only.
tools:
	@command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus package (promtool), first run only"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get install -y --no-install-recommends prometheus >/dev/null \
	    || { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends prometheus >/dev/null; }; }
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium package (the console's browser tests), first run only"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null \
	    || { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }; }

infra-up: ## start Kafka and FerretDB on 127.0.0.1 (fetched and built on first use)
	python3 -m infra.local up

infra-down: ## stop them; no process or open port is left
	python3 -m infra.local down

infra-status: ## what runs, on which port
	python3 -m infra.local status

# The local stack's addresses, on the ports PARTERRE_LOCAL_*_PORT move it to, as `make up` gives its services.
LOCAL_STACK_ENV = env $$(python3 -m infra.local env)

topics: install ## create the catalog's topics in the local Kafka (PARTERRE_LOCAL_KAFKA_PORT moves it)
	$(RUN) $(LOCAL_STACK_ENV) parterre topics create

up: install infra-up topics ## start Kafka, FerretDB, the four services and the console in the background; prints their URLs
	$(RUN) python -m infra.platform up

down: ## stop the services and the console, then Kafka and FerretDB
	@if [ -x .venv/bin/python ]; then .venv/bin/python -m infra.platform down; fi
	python3 -m infra.local down

status: ## what runs, each consumer group's lag and dead letters
	@python3 -m infra.local status || true
	@echo
	$(RUN) python -m infra.platform status

# The tests that need no server run beside the others, which spend much of their time waiting on servers (a
# consumer group settling after a kill, a broker restarting); their report follows the others'. At the lowest
# priority: they take the CPU the servers and their tests leave, instead of slowing them down.
test: install tools ## every test; starts the servers it needs and stops what it started
	@unit_log=$$(mktemp); \
	nice -n 19 $(RUN) pytest tests/unit -p no:cacheprovider >"$$unit_log" 2>&1 & unit=$$!; \
	trap 'kill $$unit 2>/dev/null; rm -f "$$unit_log"; exit 130' INT; \
	trap 'kill $$unit 2>/dev/null; rm -f "$$unit_log"; exit 143' TERM; \
	$(RUN) pytest --ignore=tests/unit --durations=15; servers=$$?; \
	wait $$unit; unit_status=$$?; \
	echo "--- the tests that need no server, run beside the others:"; cat "$$unit_log"; rm -f "$$unit_log"; \
	[ $$servers -eq 0 ] && [ $$unit_status -eq 0 ]

chaos: install ## the failure tests at full size: services killed under steady load, a poison message
	$(RUN) pytest -m chaos -s -v tests/integration/demo

test-unit: install tools ## only the tests that need no server
	$(RUN) pytest tests/unit

lint: install ## ruff and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

format: install ## apply ruff's formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

docs: install ## regenerate docs/asyncapi.json and docs/events.md from the code
	$(RUN) parterre docs events

# The demo's webhook receiver listens on 127.0.0.1 over plain HTTP, which notify refuses unless told otherwise;
# these settings reach the services only when `make demo` starts them.
demo: export PARTERRE_NOTIFY_ALLOW_LOOPBACK := true
demo: export PARTERRE_NOTIFY_ALLOW_PLAIN_HTTP := true
# The demo plays on topics of its own: whatever else the local Kafka carries never delays it, nor mixes with it.
demo: export PARTERRE_KAFKA_NAMESPACE := demo.
demo: up ## start everything, send a Québec theatre's season through it, and summarise what came out
	$(RUN) $(LOCAL_STACK_ENV) python -m demo $(DEMO_ARGS)
	@echo
	@echo "Everything keeps running: look around, then stop it with: make down"

bench: install ## measure throughput, memory and matching quality; prints a table, writes bench/results.json
	$(RUN) --group bench python -m bench.run
