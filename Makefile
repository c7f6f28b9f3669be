# Set-up is idempotent: Debian packages only when missing (and when root), the virtualenv and the
# project install only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients pcscd vsmartcard-vpcd swig libpcsclite-dev gcc python3-dev python3-venv \
	chromium chromium-driver tmux postgresql curl jq openjdk-17-jre-headless
PYTEST_ARGS ?=

.PHONY: setup system-packages locales demo test bench clean

setup: system-packages $(VENV)/.installed locales

# The message catalogs (programme/locales/*/LC_MESSAGES/loyalty.po) compiled for gettext; only when a .po changed.
PO_FILES := $(wildcard programme/locales/*/LC_MESSAGES/loyalty.po)
locales: $(PO_FILES:.po=.mo)

programme/locales/%/LC_MESSAGES/loyalty.mo: programme/locales/%/LC_MESSAGES/loyalty.po $(VENV)/.installed
	$(BIN)/pybabel -q compile -l $* -d programme/locales -D loyalty

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "missing Debian packages: $$missing; install them as root: apt-get install $$missing"; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/loyalty demo --tickets 1000 --tills 3

# ruff, mypy and import-linter first (their settings are in pyproject.toml): a lint or type error, a forbidden
# import or an import circle fails the build with its file and line or the modules' names.
test: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
