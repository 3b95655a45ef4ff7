# The two commands: `make lab` (set up, then JupyterLab on notebooks/) and `make test` (set up, then the suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_PORT ?= 8888
QUALITY ?= low

# Debian packages: headers to build pycairo/manimpango, a font for Manim's text; Chromium for the browser tests.
BUILD_PACKAGES := pkg-config libcairo2-dev libpango1.0-dev fonts-dejavu-core
TEST_PACKAGES := chromium

.PHONY: setup system-packages test-packages lab test gallery clean

setup: system-packages $(STAMP) $(LAB_SETTINGS)
	@$(BIN)/python -m compileall -q explainer  # bytecode now, not at each kernel's first import (0.15 s of every notebook's)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (or run: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# JupyterLab defaults: never fetch Jupyter news or check for updates (both go to the internet; the news asks first).
# A steady cursor: making a cell active restarts the blink of every editor on screen, and without a GPU each frame of
# those blinks costs the page 10 ms (about 0.6 s of its 2 cores' time in the 1.2 s after a learner clicks a slider).
$(LAB_SETTINGS): $(STAMP) Makefile
	@mkdir -p $(dir $@)
	@printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}, "@jupyterlab/codemirror-extension:plugin": {"defaultConfig": {"cursorBlinkRate": 0}}}' > $@

system-packages:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BUILD_PACKAGES)"

test-packages:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_PACKAGES)"

# Installs what is missing when root; otherwise prints the exact apt-get line and stops.
apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "error: missing system packages:$$missing (Debian names; install their equivalents, or use environment.yml with conda)"; exit 1; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "error: missing system packages. Run:"; echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	echo "installing system packages:$$missing"; \
	DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing >/dev/null

lab: setup
	@echo "Starting JupyterLab on http://127.0.0.1:$(LAB_PORT) (the URL with its token follows; Ctrl-C stops it)"
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.root_dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# Two workers, a test file each at a time: most tests run one process on one core (a render, a kernel), so two files
# side by side use both cores of a small machine; a file's tests share its fixtures on one worker. The browser tests
# run afterwards on their own: a page that shares its cores with a render can miss anywidget's 2-second start-up limit.
test: setup test-packages
	$(BIN)/python -m pytest -n 2 --dist loadfile --ignore=tests/test_browser.py
	$(BIN)/python -m pytest tests/test_browser.py

# Offline HTML of every notebook, every video, and build/site/index.html (QUALITY=low|medium|high).
gallery: setup
	$(BIN)/explainer build --quality $(QUALITY)

clean:
	rm -rf $(VENV) build .pytest_cache
