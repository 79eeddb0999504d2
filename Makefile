# certpilot.tls developer entry points. Two commands on a fresh machine:
#   make demo   - install everything, start the local sandbox, run the main job end to end
#   make test   - install everything and run every gate and test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(CURDIR)
VENV        ?= $(ROOT)/.venv
PY          := $(VENV)/bin/python
BUILD       := $(ROOT)/.build
COLL_PATH   := $(BUILD)/collections
SANITY_TREE := $(BUILD)/sanity/ansible_collections/certpilot/tls
SANDBOX     := $(PY) $(ROOT)/tests/sandbox/sandbox.py
ARTIFACTS   := $(ROOT)/artifacts
export ANSIBLE_COLLECTIONS_PATH := $(COLL_PATH)
export PYTHONPATH := $(COLL_PATH)
export ANSIBLE_NOCOLOR := 1
export PATH := $(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help deps apt venv demo test test-matrix sanity sanity-quick units integration lint \
        changelog-lint docs-check docs-lint build-check galaxy-importer awx-second-leg sandbox-up sandbox-down sandbox-status bench bench-venv clean

help:
	@echo "make demo         install deps, start the sandbox, run the main job twice, show the report"
	@echo "make test         install deps and run every gate: sanity, units, lint, docs, changelog, integration"
	@echo "make awx-second-leg  the AWX-style jobs on Python 3.11/ansible-core 2.19 (part of 'make test')"
	@echo "make test-matrix  run 'make test' on Python 3.12/ansible-core 2.21 and Python 3.11/ansible-core 2.19"
	@echo "make bench        benchmarks against community.crypto (results in tests/bench/results/)"
	@echo "make sandbox-up | sandbox-down | sandbox-status"

deps:
	@VENV=$(VENV) bash tests/tools/bootstrap.sh all

apt:
	@VENV=$(VENV) bash tests/tools/bootstrap.sh apt

venv:
	@VENV=$(VENV) bash tests/tools/bootstrap.sh venv

sandbox-up: deps
	@$(SANDBOX) up

sandbox-down:
	@if [ -x $(PY) ] && [ -f tests/sandbox/sandbox.py ]; then $(SANDBOX) down; fi

sandbox-status:
	@$(SANDBOX) status

demo: deps
	@$(SANDBOX) up
	@bash tests/demo/run_demo.sh

# The copy is what ansible-test wants: a tree named ansible_collections/<ns>/<name>.
$(SANITY_TREE): FORCE
	@mkdir -p $(SANITY_TREE)
	@# Its own git repo: otherwise ansible-test sees our .gitignore'd .build/ and skips every file.
	@[ -d $(SANITY_TREE)/.git ] || git init -q $(SANITY_TREE)
	@# Only files that exist: a tracked file deleted in the working tree (not committed yet) would make rsync fail.
	@git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done \
	  | rsync -a --delete --from0 --files-from=- ./ $(SANITY_TREE)/
	@# rsync --files-from does not delete files that left the list; rebuild to be exact.
	@cd $(SANITY_TREE) && comm -13 <(cd $(ROOT) && git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$$f" ] && echo "$$f"; done | sort) <(find . -type f -not -path './tests/output/*' -not -path './.git/*' | sed 's|^\./||' | sort) | xargs -r rm -f
FORCE:

SANITY_PY ?= $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
sanity: deps $(SANITY_TREE)
	@echo "==> ansible-test sanity (python $(SANITY_PY))"
	@cd $(SANITY_TREE) && $(VENV)/bin/ansible-test sanity --venv --python $(SANITY_PY) --color no $(SANITY_ARGS)

# Quick check of a few files while developing: make sanity-quick FILES="plugins/modules/x.py"
sanity-quick: $(SANITY_TREE)
	@cd $(SANITY_TREE) && $(VENV)/bin/ansible-test sanity --venv --python $(SANITY_PY) --color no \
	    --test validate-modules --test pep8 --test pylint $(FILES)

units: deps $(SANITY_TREE)
	@echo "==> ansible-test units (python $(SANITY_PY))"
	@cd $(SANITY_TREE) && $(VENV)/bin/ansible-test units --venv --requirements --python $(SANITY_PY) --color no $(UNITS_ARGS)

lint: deps
	@echo "==> ansible-lint --profile production"
	@$(VENV)/bin/ansible-lint --profile production --offline roles/ playbooks/

changelog-lint: deps
	@echo "==> antsibull-changelog lint"
	@$(VENV)/bin/antsibull-changelog lint

docs-check: deps
	@echo "==> ansible-doc renders every module"
	@bash tests/tools/docs_check.sh

docs-lint: deps
	@echo "==> antsibull-docs lint-collection-docs (markup, references, every plugin and role)"
	@$(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs .

build-check: deps
	@echo "==> ansible-galaxy collection build in a dirty tree: no junk in the tarball"
	@VENV=$(VENV) bash tests/tools/build_check.sh

galaxy-importer: deps
	@echo "==> galaxy-importer (flake8, ansible-doc, ansible-lint; no ansible-test) on the built tarball"
	@bash tests/tools/bootstrap.sh importer
	@VENV=$(VENV) bash tests/tools/galaxy_importer.sh

integration: deps
	@echo "==> integration tests against the sandbox"
	@mkdir -p $(ARTIFACTS)
	@set -o pipefail; rc=0; \
	  $(SANDBOX) up || rc=$$?; \
	  if [ $$rc -eq 0 ]; then \
	    $(PY) -m pytest tests/integration -p no:cacheprovider -q -rfE --timeout 900 \
	      --junitxml=$(ARTIFACTS)/integration.xml $(PYTEST_ARGS) || rc=$$?; \
	  fi; \
	  $(SANDBOX) down || true; \
	  exit $$rc

# The AWX-style jobs (ansible-runner) on the matrix's second leg, inside 'make test': issue 13 wants them green
# on both legs, and the whole second leg ('make test-matrix') is too slow for every run.
LEG2_VENV   ?= $(ROOT)/.venv-py311
LEG2_PYTHON ?= $(shell ls -d $$HOME/.pyenv/versions/3.11.*/bin/python3 2>/dev/null | head -1 || command -v python3.11)
awx-second-leg: deps
	@echo "==> AWX-style jobs on the second leg (Python 3.11, ansible-core 2.19)"
	@[ -n "$(LEG2_PYTHON)" ] || { echo "no Python 3.11 for the second leg (pyenv or python3.11)"; exit 1; }
	@VENV=$(LEG2_VENV) CONTROLLER_PYTHON=$(LEG2_PYTHON) bash tests/tools/bootstrap.sh venv
	@$(LEG2_VENV)/bin/ansible-playbook --version | grep 'core 2\.19\.' >/dev/null || { echo "$(LEG2_VENV) is not ansible-core 2.19"; exit 1; }
	@mkdir -p $(ARTIFACTS)
	@set -o pipefail; rc=0; \
	  $(SANDBOX) up || rc=$$?; \
	  if [ $$rc -eq 0 ]; then \
	    $(LEG2_VENV)/bin/python -m pytest tests/integration/test_awx_jobs.py tests/integration/test_awx_credential_types.py \
	      -p no:cacheprovider -q -rfE --timeout 900 --junitxml=$(ARTIFACTS)/awx-second-leg.xml || rc=$$?; \
	  fi; \
	  $(SANDBOX) down || true; \
	  exit $$rc

test: deps
	@VENV=$(VENV) bash tests/tools/run_all.sh

test-matrix:
	@VENV=$(ROOT)/.venv-py311 CONTROLLER_PYTHON=$$(ls -d $$HOME/.pyenv/versions/3.11.*/bin/python3 2>/dev/null | head -1 || command -v python3.11) \
	  $(MAKE) test VENV=$(ROOT)/.venv-py311
	@$(MAKE) test

bench-venv:
	@bash tests/tools/bootstrap.sh bench

bench: deps bench-venv
	@$(SANDBOX) up
	@set -o pipefail; rc=0; $(PY) tests/bench/run.py || rc=$$?; $(SANDBOX) down || true; exit $$rc

clean: sandbox-down
	rm -rf $(BUILD) tests/output $(ARTIFACTS)
