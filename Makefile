# camops — every entry point. `make setup` is idempotent; every other target depends on it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INVENTORY ?= inventories/lab
# The facilities `make demo` rolls out (one site_rollout.yml run each).
SITES ?= lab_north_school lab_south_barracks
STAMP := $(VENV)/.setup-stamp

export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup lint lint-python lint-ansible lint-monitoring test test-fast test-lab lab-up lab-down lab-status demo access-matrix clean

help:
	@echo "make setup       venv + every Python and Debian dependency (idempotent)"
	@echo "make lint        ruff, mypy, yamllint, ansible-lint (production profile), promtool, amtool"
	@echo "make test        every test tier"
	@echo "make test-fast   the tiers that need no lab (unit, model, modules, playbook checks)"
	@echo "make test-lab    the lab tier: lab up, lab tests, molecule scenarios, lab down"
	@echo "make lab-up      podman lab of INVENTORY=$(INVENTORY) (lab-down, lab-status)"
	@echo "make demo        validate, size, access matrix of INVENTORY=$(INVENTORY), then the lab up and verified"
	@echo "make access-matrix  regenerate docs/access-matrix-*.md"

setup: $(STAMP)

$(STAMP): pyproject.toml services/platform/pyproject.toml services/recorder/pyproject.toml lab/pyproject.toml requirements/constraints.txt deps/apt.txt deps/lab-apt.txt scripts/setup-debian.sh scripts/debian-tools.sh
	bash scripts/setup-debian.sh deps/apt.txt deps/lab-apt.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	bash scripts/debian-tools.sh $(BIN)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev]' -e ./services/recorder -e ./services/platform -e ./lab
	touch $@

# Two at a time (the machine has two cores; mypy and ansible-lint take most of the time), each
# group's output printed whole when it ends.
lint: setup
	$(MAKE) --no-print-directory -j2 --output-sync=target lint-python lint-ansible lint-monitoring

lint-python: setup
	ruff check .
	ruff format --check .
	mypy

lint-ansible: setup
	yamllint --strict .
	ansible-lint --profile production

lint-monitoring: setup
	promtool check rules roles/monitoring/files/rules/*.yml
	promtool test rules tests/monitoring/*.test.yml
	for inventory in inventories/*/; do camops alert-routing "$$inventory" --check || exit 1; done

# pg_virtualenv (Debian's postgresql-common): a throw-away PostgreSQL cluster for the platform's
# tests, dropped when pytest ends. Two pytest-xdist workers (the tests are independent; a worker
# that finishes early takes queued tests from the other). Budgets: docs/testing.md.
TIMED := python3 $(CURDIR)/scripts/timing.py run
test-fast: setup
	CAMOPS_TIMING_TIER=fast $(TIMED) "fast tier" -- \
	  pg_virtualenv -t -o fsync=off -- pytest -m "not lab" -q -n 2 --dist worksteal --durations=15

test-lab: setup
	$(TIMED) "lab tier" -- bash scripts/test-lab.sh $(INVENTORY)

test: test-fast test-lab

lab-up: setup
	camops lab up $(INVENTORY)

lab-down: setup
	camops lab down $(INVENTORY)

lab-status: setup
	camops lab status $(INVENTORY)

demo: setup
	@echo "== camops validate $(INVENTORY)"
	camops validate $(INVENTORY)
	@echo
	@echo "== camops size $(INVENTORY)"
	camops size $(INVENTORY)
	@echo
	@echo "== camops access-matrix $(INVENTORY)"
	camops access-matrix $(INVENTORY)
	@echo
	@echo "== camops lab up $(INVENTORY)"
	camops lab up $(INVENTORY)
	@echo
	@echo "== central side: object store, central recorders, platform (playbooks/central.yml)"
	ANSIBLE_VAULT_PASSWORD_FILE=$(CURDIR)/.lab/vault-pass ansible-playbook playbooks/central.yml -i $(INVENTORY)
	@echo
	@echo "== accounts from the registration forms (playbooks/accounts.yml)"
	ANSIBLE_VAULT_PASSWORD_FILE=$(CURDIR)/.lab/vault-pass ansible-playbook playbooks/accounts.yml -i $(INVENTORY)
	@echo
	@for site in $(SITES); do \
	  echo "== rollout of facility $$site: router, cameras, NVR, registration, verification (camops rollout $$site)"; \
	  camops rollout $$site -i $(INVENTORY) || exit 1; \
	  echo; \
	done
	@echo "== verification: camops lab status, camops lab verify $(INVENTORY)"
	camops lab status $(INVENTORY)
	camops lab verify $(INVENTORY)

access-matrix: setup
	for inv in inventories/*/; do \
	  name=$$(basename $$inv); \
	  camops access-matrix $$inv --output docs/access-matrix-$$name.md; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
