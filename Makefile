# The two commands that matter: `make demo` and `make test`. Each bootstraps first.
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := edge drivers sync provisioning ui_kiosk centre

.PHONY: bootstrap demo test test-year-ahead lint typecheck contracts unit bench chaos clean train-plates \
	image bundle image-test

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
	$(BIN)/pytest -q tests --ignore=tests/bench --ignore=tests/image

test: lint typecheck contracts unit

# The whole suite again with the box's clock a year ahead (edge.timeutil): proves that no test
# depends on today's date. CI runs it after `make test`.
test-year-ahead: bootstrap
	CAREC_EDGE_CLOCK_OFFSET=+365d $(BIN)/pytest -q tests --ignore=tests/bench --ignore=tests/image

# The appliance image (README: "The appliance image"): a bootable x86-64 UEFI disk image with
# two verified root slots and a data partition, built from Debian 12 packages into build/image/.
image: bootstrap
	@image/build/make-image

# A signed RAUC update bundle of the image's root (build/image/*.raucb), for a box or a USB stick.
bundle: image
	@image/build/make-bundle

# Builds the image and boots it under QEMU: readiness, kiosk, firewall, update, fallback, power cut.
image-test: image
	$(BIN)/pytest -q tests/image

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
