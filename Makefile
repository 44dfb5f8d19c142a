# Cloudios developer commands. The README names two: `make demo` and `make test`.
# Everything is installed on demand into ignored folders (.venv, .cache), so a fresh clone works.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
UV_VERSION := 0.13.9
CACHE := $(CURDIR)/.cache
UV_HOME := $(CACHE)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint bench controlplane venv generate check-generated clean

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The virtualenv is rebuilt from the committed lock file whenever it changes (--frozen: never re-resolve).
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $@

venv: $(VENV)/.synced

## demo: the CLI scans of seeded local AWS, GCP and Azure emulators, then the operator on a local control
## plane with those accounts and an agent-fed Kubernetes cluster (Recommendations, summary, an approval
## with the approver recorded); installs what it needs first
demo: venv controlplane
	$(VENV)/bin/cloudios demo
	$(VENV)/bin/cloudios demo --provider gcp --report out/cloudios-demo-gcp-report.html
	$(VENV)/bin/cloudios demo --provider azure --report out/cloudios-demo-azure-report.html
	$(PY) tools/demo_operator.py

## demo-cli: only the CLI part of the demo (no control plane needed)
.PHONY: demo-cli
demo-cli: venv
	$(VENV)/bin/cloudios demo
	$(VENV)/bin/cloudios demo --provider gcp --report out/cloudios-demo-gcp-report.html
	$(VENV)/bin/cloudios demo --provider azure --report out/cloudios-demo-azure-report.html

## controlplane: build kube-apiserver, etcd, kubectl and helm from their Go modules (cached by version)
controlplane:
	bash tools/controlplane/build.sh

## lint: ruff, ruff format --check, mypy strict (the packages and the typed tools), import-linter
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tools/chart_docs.py
	$(VENV)/bin/lint-imports

## charts: regenerate both charts' values.schema.json and README values table from values.yaml
.PHONY: charts
charts: venv
	$(PY) tools/chart_docs.py

## testdeps: Debian packages the suite starts itself (PostgreSQL's server, Prometheus and promtool)
## and the shells whose completion scripts it checks (zsh, fish), installed when missing
.PHONY: testdeps
testdeps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql (the tests start a private server on loopback)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if ! command -v zsh >/dev/null 2>&1 || ! command -v fish >/dev/null 2>&1; then \
		echo "installing Debian's zsh and fish (the tests check \`cloudios completion zsh|fish\`)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			zsh fish >/dev/null; \
	fi
	@if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then \
		echo "installing Debian's prometheus (the tests backfill blocks with promtool and start it on loopback)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			prometheus >/dev/null; \
	fi

## test: everything the suite needs, then the whole suite (unit, golden, integration, e2e) and the gates
test: venv controlplane testdeps
	$(PY) -m pytest

## bench: benchmarks; results are recorded by hand in docs/benchmarks.md with the command
bench: venv controlplane
	$(PY) bench/aws_scan.py
	$(PY) bench/azure_scan.py
	$(PY) -m bench.operator --accounts 200 --runs 3
	$(PY) -m bench.agent

## audit: every package version in uv.lock against PyPI's published vulnerability data (pip-audit); fails
## on a known vulnerability without an unexpired exception in security/audit-exceptions.toml, and when a
## package could not be audited (also run by `make test`: tests/integration/test_audit_lock.py)
.PHONY: audit
audit: venv
	$(PY) tools/audit_lock.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
