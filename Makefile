# Quick start: `make run` (console on http://127.0.0.1:8000 and the demo server's transport worker),
# `make test` (the whole suite). Both create .venv and install what they need first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_SERVER ?= HUB01
WEB_ADDRESS ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: run test install migrate seed bench bench-console bench-queues bench-relay bench-receive bench-latency bench-sessions bench-queue-scale clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --server $(DEMO_SERVER)

# The web console, the demo server's transport worker and Celery beat (queue statistics) in the foreground;
# Ctrl-C stops them all.
run: export DEBUG ?= 1
run: seed
	@trap 'kill 0' INT TERM; \
	$(PY) manage.py transport --server $(DEMO_SERVER) & \
	$(VENV)/bin/celery -A exchange_console beat --loglevel=WARNING & \
	$(PY) manage.py runserver $(WEB_ADDRESS) --noreload & \
	wait

# The import contracts (pyproject.toml [tool.importlinter]) first, then the suite.
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Server time of the console's list pages with 1,000 and 5,000 send connectors and 100 servers.
bench-console: install
	$(PY) bench/console_lists.py

# The Queue Viewer's pages, filters and refresh with 100,000 queued messages (SQLite).
bench-queues: install
	$(PY) bench/queue_viewer.py

# Relay and receive throughput next to a Postfix instance of their own (Debian's postfix package; as root).
BENCH_MESSAGES ?= 2000
bench-relay: install
	$(PY) bench/relay_bench $(BENCH_MESSAGES)

bench-receive: install
	$(PY) bench/receive_bench $(BENCH_MESSAGES)

# 2,000 concurrent SMTP sessions (10% sending) on one receive connector: the receive process's RSS per idle session.
BENCH_SESSIONS ?= 2000
bench-sessions: install
	$(PY) bench/sessions_bench --sessions $(BENCH_SESSIONS)

# Relay latency at half the peak rate: the worker on the embedded broker and on Redis (db 14), then Postfix.
bench-latency: install
	$(PY) bench/latency_bench

# 100,000 messages queued through the transport while the smart host is down: the worker's RSS, Get-Queue,
# Get-Message and the Queue Viewer's server time, then the drain rate once the smart host returns.
BENCH_QUEUED ?= 100000
bench-queue-scale: install
	$(PY) bench/queue_scale --messages $(BENCH_QUEUED)

clean:
	rm -rf data .pytest_cache
