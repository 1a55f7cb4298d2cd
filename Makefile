# The two commands: `make up` runs the stack, `make test` runs every test. `make` lists the rest.
SHELL := bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

-include .env            # the user's overrides (see .env.example)
BASES ?= auto            # auto | official | airgap (see build/bases.sh)
HTTP_PORT ?= 8080
PYTHON ?= python3
VENV := .venv
PYTEST := $(VENV)/bin/pytest
# Bases chosen by build/bases.sh are exported to compose as build args.
COMPOSE = set -a; [ ! -f .bases.env ] || . ./.bases.env; set +a; docker compose
SERVICES := $(patsubst services/%/compose.yaml,%,$(wildcard services/*/compose.yaml))

.PHONY: help up dev down ps logs build test test-unit test-integration test-e2e clean failover \
        bases secrets lint lock bench k8s-validate k8s-schemas compose-check

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  \033[1m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: compose-check secrets .bases.env ## Build what changed and start the stack; waits until every container is healthy
	$(COMPOSE) up --build --detach --wait --wait-timeout 300
	@$(COMPOSE) ps --format 'table {{.Service}}\t{{.Status}}\t{{.Ports}}'
	@echo "Ready: http://localhost:$(HTTP_PORT)/api/users"

dev: compose-check secrets .bases.env ## Develop inside containers: a saved change rebuilds and replaces that container
	$(COMPOSE) up --build --watch

down: compose-check ## Stop and remove the containers (data volumes are kept)
	$(COMPOSE) down --remove-orphans

ps: compose-check ## Show the containers and their health
	$(COMPOSE) ps

logs: compose-check ## Follow the logs (SERVICE=users for one)
	$(COMPOSE) logs --follow $(SERVICE)

build: compose-check secrets .bases.env ## Build all images
	$(COMPOSE) build

failover: compose-check ## Promote the replica (stops and fences the primary), then show a write through nginx
	./db/failover.sh
	@curl --silent --show-error --fail-with-body -H 'Content-Type: application/json' \
	  -d "{\"email\": \"after-failover-$$(date +%s)@example.com\", \"name\": \"Written after failover\"}" \
	  http://localhost:$(HTTP_PORT)/api/users && echo && echo "failover: writes continue"

clean: compose-check ## Remove containers AND data volumes (asks; FORCE=1 skips the question)
	@[ "$(FORCE)" = 1 ] || { read -r -p "Delete the database volumes? [y/N] " answer && [ "$$answer" = y ]; }
	$(COMPOSE) down --volumes --remove-orphans

bases: ## Choose official or air-gapped bases again (BASES=auto|official|airgap)
	@rm -f .bases.env && $(MAKE) .bases.env

.bases.env: $(wildcard services/*/requirements.txt)
	@BASES=$(strip $(BASES)) build/bases.sh

secrets: ## Generate missing secrets into secrets/ (git-ignored; never overwrites)
	@./db/secrets.sh

compose-check:
	@docker compose version >/dev/null 2>&1 || { echo "Docker Compose v2 is required: install the docker-compose-plugin package (see README, 'Requirements')." >&2; exit 1; }

# Dev tools plus every service's and test suite's requirements, found by folder.
DEV_REQUIREMENTS := requirements-dev.txt starter/requirements.txt $(wildcard services/*/requirements.txt tests/*/requirements.txt)
$(VENV)/.installed: $(DEV_REQUIREMENTS)
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(addprefix --requirement ,$(DEV_REQUIREMENTS))
	touch $@

# Two workers: the Docker layers in one (they share images and stacks), the unit layer beside them.
test: $(VENV)/.installed ## Run every test: unit, integration (testcontainers) and end-to-end (compose)
	@started=$$(date +%s); status=0; $(PYTEST) -n 2 --dist loadgroup || status=$$?; \
	  echo "make test: $$(( $$(date +%s) - started )) s"; exit $$status

test-unit: $(VENV)/.installed ## Unit tests only (no Docker)
	$(PYTEST) -m unit -n 2

test-integration: $(VENV)/.installed ## Integration tests (testcontainers: one or a few containers)
	$(PYTEST) -m integration

test-e2e: $(VENV)/.installed ## End-to-end tests against the whole compose stack
	$(PYTEST) -m e2e

bench: compose-check .bases.env $(VENV)/.installed ## Measure throughput, latency, build, size, startup, failover (writes docs/benchmarks.*)
	$(VENV)/bin/python tests/bench/bench.py

k8s-validate: $(VENV)/.installed ## Render and validate the Kubernetes manifests offline
	$(PYTEST) tests/k8s

k8s-schemas: $(VENV)/.installed ## Fetch the pinned CRD schemas again into k8s/schemas (network; by hand, not by tests)
	$(VENV)/bin/python k8s/tools/crd_schemas.py

lint: $(VENV)/.installed ## hadolint every Dockerfile, check the compose file
	$(VENV)/bin/hadolint $(wildcard */Dockerfile)
	$(COMPOSE) config --quiet

lock: $(VENV)/.installed ## Re-pin every service's requirements.txt from its requirements.in
	for s in $(SERVICES); do (cd services/$$s && $(VENV)/bin/uv pip compile --quiet --universal \
	  --python-version 3.11 --no-header --custom-compile-command "make lock" requirements.in -o requirements.txt); done

# The project's names, services and template updates (starter/configure). Renaming needs only
# Python; adding a service and updating need Copier, which gets its own small venv: the test
# toolchain is not needed for them.
STARTER_VENV := starter/.venv
.PHONY: configure service update
$(STARTER_VENV)/.installed: starter/requirements.txt
	@[ -x $(STARTER_VENV)/bin/python ] || $(PYTHON) -m venv $(STARTER_VENV)
	@$(STARTER_VENV)/bin/pip install --quiet --disable-pip-version-check --requirement starter/requirements.txt
	@touch $@

configure: ## Set the project's names: PROJECT=<slug> TITLE=.. REGISTRY=<host/path> REPO_URL=.. HTTP_PORT=..
	$(PYTHON) -m starter.configure project $(if $(PROJECT),--slug '$(PROJECT)') $(if $(TITLE),--title '$(TITLE)') \
	  $(if $(REGISTRY),--registry '$(REGISTRY)') $(if $(REPO_URL),--repo-url '$(REPO_URL)') \
	  $(if $(filter command line,$(origin HTTP_PORT)),--http-port '$(HTTP_PORT)')

service: ## Add a Flask service wired into compose, nginx, k8s: make service NAME=payments
	@[ -n "$(NAME)" ] || { echo "usage: make service NAME=<name>" >&2; exit 2; }
	@$(MAKE) $(STARTER_VENV)/.installed
	@$(STARTER_VENV)/bin/python -m starter.configure service '$(NAME)'

update: $(STARTER_VENV)/.installed ## Pull template releases into the project and each service (VCS_REF=vX.Y.Z to pick one)
	@$(STARTER_VENV)/bin/python -m starter.configure update $(if $(VCS_REF),--vcs-ref '$(VCS_REF)')
