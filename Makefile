# The two commands that matter: `make demo` and `make test`. Each bootstraps first.
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := edge drivers sync provisioning ui_kiosk centre

.PHONY: bootstrap demo test test-year-ahead lint typecheck contracts unit bench chaos clean train-plates

bootstrap:
	@scripts/bootstrap

demo: bootstrap
	@$(BIN)/carec-edge demo

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: bootstrap
	$(BIN)/mypy

contracts: bootstrap
	$(BIN)/lint-imports

unit: bootstrap
	$(BIN)/pytest -q tests --ignore=tests/bench

test: lint typecheck contracts unit

# The whole suite again with the box's clock a year ahead (edge.timeutil): proves that no test
# depends on today's date. CI runs it after `make test`.
test-year-ahead: bootstrap
	CAREC_EDGE_CLOCK_OFFSET=+365d $(BIN)/pytest -q tests --ignore=tests/bench

bench: bootstrap
	$(BIN)/python -m tests.bench

# The chaos tests at five times the size `make test` runs them at.
chaos: bootstrap
	CHAOS_SCALE=5 $(BIN)/pytest -q -s tests/chaos

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Retrain the plate reader (about 25 minutes) and then the plate detector (about 22), one CPU
# thread each, into drivers/plates/models/ (the reader fine-tunes the shipped weights; README:
# "The plate models and their training").
train-plates: bootstrap
	$(BIN)/pip install -e '.[train]'
	$(BIN)/python scripts/train_plate_reader.py
	$(BIN)/python scripts/train_plate_detector.py
