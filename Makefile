# Agora — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
HOST ?= 127.0.0.1
# `make cluster CLUSTER_ARGS="--port 9080 --node-port 9001"`: other ports (python -m deploy.cluster -h)
CLUSTER_ARGS ?=
PORT ?= 8000
# uv from PATH, else a private copy installed with pip into .tools/ (no root, no system pip)
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
NPM_TOOLS := tests/e2e/node_modules/.bin/newman

.PHONY: help install run cluster test lint e2e bench bench-chat bench-shop format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(BIN)/agora: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/agora ## install the locked environment into .venv

$(NPM_TOOLS): tests/e2e/package.json tests/e2e/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the RealWorld conformance tests will be skipped"; fi

run: install ## migrate, load demo content if empty, serve on http://$(HOST):$(PORT)
	@mkdir -p var
	$(BIN)/agora migrate
	$(BIN)/agora seed --if-empty
	@echo ""
	@echo "  Agora is starting on http://$(HOST):$(PORT)"
	@echo "    API docs      http://$(HOST):$(PORT)/docs"
	@echo "    articles      http://$(HOST):$(PORT)/api/articles"
	@echo "    Atom feed     http://$(HOST):$(PORT)/api/feeds/articles.atom"
	@echo "    health        http://$(HOST):$(PORT)/healthz   metrics http://$(HOST):$(PORT)/metrics"
	@echo "    demo login    jake@example.com / password123"
	@echo ""
	$(BIN)/agora serve --host $(HOST) --port $(PORT)

cluster: install ## two nodes behind nginx on http://127.0.0.1:8080 (this machine's PostgreSQL, Redis)
	./deploy/install-nginx.sh
	$(BIN)/python -m deploy.cluster $(CLUSTER_ARGS)

test: install $(NPM_TOOLS) ## run the whole suite (embedded default; PostgreSQL/Redis when AGORA_TEST_* are set)
	$(BIN)/pytest

lint: install ## ruff check, ruff format --check, mypy --strict, import contracts
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy
	$(BIN)/mypy --strict src tests bench deploy
	$(BIN)/lint-imports

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests bench deploy
	$(BIN)/ruff check --fix src tests bench deploy

e2e: install $(NPM_TOOLS) ## only the end-to-end tests (live servers, conformance suites)
	$(BIN)/pytest tests/e2e

bench: install ## seed a large blog on PostgreSQL, load it; jobs on RabbitMQ; write docs/performance.md
	$(BIN)/python -m bench
	$(BIN)/python -m bench.jobs

bench-chat: install ## the chat beside its Python peers in the shared harness (../shared/bench/chat); writes docs/performance.md
	$(BIN)/python -m bench.chat --ceiling $(CHAT_BENCH_ARGS)

bench-shop: install ## the shop (100k products, PostgreSQL + Redis) beside django-oscar in the shared harness (../shared/bench/shop); writes docs/performance.md
	$(BIN)/python -m bench.shop $(SHOP_BENCH_ARGS)

clean: ## remove the environment, local data and caches
	rm -rf $(VENV) .tools var tests/e2e/node_modules .pytest_cache .mypy_cache .ruff_cache
