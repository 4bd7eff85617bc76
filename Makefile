# The few commands a contributor needs. Each target calls the script that does the work, so
# `make` and CI (.ci/run) never drift apart. `make help` lists them.

SHELL := bash
.DEFAULT_GOAL := help

.PHONY: help run test test-pg test-all lint cover bench stack-up stack-down

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) \
		| awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

run: ## Serve on http://127.0.0.1:8080 (SQLite file hop.db, release build)
	cargo run --release -- serve

test: ## Rust tests: unit, and integration on SQLite (and PostgreSQL when it answers)
	scripts/test cargo

test-pg: ## Rust tests with PostgreSQL required (TEST_DATABASE_URL or 127.0.0.1:5432)
	TEST_REQUIRE_POSTGRES=1 scripts/test cargo

test-all: ## The whole suite: Rust tests, then every suite in scripts/ci/ (as CI runs it)
	scripts/test

lint: ## rustfmt and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

cover: ## Test coverage report in target/coverage/ (fails under 85% of lines)
	scripts/ci/coverage

bench: ## The benchmarks (about 20 minutes; rewrites docs/performance.md)
	bench/run

stack-up: ## The whole stack in Docker: hop x2, nginx, PostgreSQL, Redis, monitoring
	docker compose up -d

stack-down: ## Stop the Docker stack (its volumes are kept)
	docker compose down
