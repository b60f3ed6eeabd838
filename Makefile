# make pyz: dist/agentpod.pyz, the one-file release (AgentPod + every dependency, Traefik and
# PostgreSQL binaries included), runnable by the system python3 of any version in PY_VERSIONS:
# binary wheels of each version are merged into one site-packages (their extension modules have
# ABI-tagged names, so they sit side by side). Needs only python3 (with venv): the build tools
# (pip, shiv) live in a venv of their own, build/venv, made on first use.
PYTHON      ?= python3
PY_VERSIONS ?= 3.11 3.12 3.13
ARCH        ?= $(shell uname -m)
BUILD       := build/pyz
TOOLS       := build/venv
TOOLS_PY    := $(TOOLS)/bin/python
PYZ         := dist/agentpod.pyz
PLATFORMS   := $(foreach p,manylinux_2_28 manylinux_2_17 manylinux2014 linux,--platform $(p)_$(ARCH))
SOURCES     := $(shell git ls-files agentpod installer templates 2>/dev/null) pyproject.toml setup.py

.PHONY: pyz clean test
pyz: $(PYZ)

$(TOOLS_PY):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS_PY) -m pip install --quiet --upgrade pip 'shiv>=1.0'

$(PYZ): $(SOURCES) | $(TOOLS_PY)
	rm -rf $(BUILD) && mkdir -p $(BUILD)/wheel $(BUILD)/site-packages dist
	$(TOOLS_PY) -m pip wheel --quiet --no-deps --wheel-dir $(BUILD)/wheel .
	set -e; for v in $(PY_VERSIONS); do \
	  echo "==> dependencies for python $$v"; \
	  $(TOOLS_PY) -m pip install --quiet --no-compile --target $(BUILD)/py$$v \
	    --python-version $$v --only-binary=:all: $(PLATFORMS) \
	    "$$(ls $(BUILD)/wheel/agentpod-*.whl)[proxy]"; \
	  cp -a -n $(BUILD)/py$$v/. $(BUILD)/site-packages/; \
	done
	$(TOOLS_PY) -m shiv --site-packages $(BUILD)/site-packages --compressed --compile-pyc \
	  --reproducible --python '/usr/bin/env python3' --entry-point agentpod.cli.main:main \
	  --output-file $@
	cd dist && sha256sum agentpod.pyz > agentpod.pyz.sha256
	@ls -l $@ && cat $@.sha256

test:
	bash .ci/run

clean:
	rm -rf build dist
