# The two README commands: `make run` (set up, then the app on the sample merchant) and `make test`.
.PHONY: setup run test test-fast test-browser test-browser-load bench

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/onbrand prepare
	.venv/bin/streamlit run app.py --server.headless true

test: setup
	.venv/bin/python -m pytest

test-fast: setup
	.venv/bin/python -m pytest -m "not integration"

test-browser: setup
	.venv/bin/python -m pytest -m browser -s tests/browser

test-browser-load: setup
	ONBRAND_BROWSER_SOAK=5 .venv/bin/python -m pytest -s tests/browser/test_browser_under_load.py

bench: setup
	.venv/bin/onbrand bench
