# firedrill developer and CI entry points. See localstack/README.md for the
# emulators and scripts/setup-postgres for the database.

SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c

CARGO_TARGET_DIR ?= /var/cache/firedrill/target
FIREDRILL_PG_PORT ?= 55432
FIREDRILL_PG_PASSWORD ?= firedrill-demo-secret
FIREDRILL_PG_URL ?= postgres://firedrill@127.0.0.1:$(FIREDRILL_PG_PORT)/postgres
export CARGO_TARGET_DIR FIREDRILL_PG_PORT FIREDRILL_PG_PASSWORD FIREDRILL_PG_URL

.PHONY: help emulators emulators-down postgres postgres-down chromium pushgateway pushgateway-down target-dir \
	build seed-demo demo test lint down image image-test validate-deploy

help:
	@echo "make emulators       start LocalStack (s3, ec2, sts) and moto (rds) on 127.0.0.1"
	@echo "make emulators-down  stop them"
	@echo "make postgres        start the private PostgreSQL on 127.0.0.1:$(FIREDRILL_PG_PORT)"
	@echo "make postgres-down   stop it"
	@echo "make pushgateway     start the private Prometheus Pushgateway on 127.0.0.1:59091"
	@echo "make demo            emulators + postgres + build + seed, then run the quickstart, postgres and application demos"
	@echo "make test            emulators + postgres + chromium + pushgateway, then the test suite, the deploy recipes and the image"
	@echo "make lint            cargo fmt --all --check and clippy -D warnings"
	@echo "make image           build the container image (buildah, no Docker daemon)"
	@echo "make image-test      build the image and run the quickstart drill inside it"
	@echo "make validate-deploy validate the Kubernetes and GitHub Actions recipes offline"
	@echo "make down            stop emulators, postgres and the pushgateway"

emulators:
	localstack/up

emulators-down:
	localstack/down

postgres:
	scripts/setup-postgres

postgres-down:
	scripts/setup-postgres stop

chromium:
	scripts/setup-chromium

pushgateway:
	scripts/setup-pushgateway

pushgateway-down:
	scripts/setup-pushgateway stop

target-dir:
	mkdir -p "$(CARGO_TARGET_DIR)"

build: target-dir
	cargo build

seed-demo: emulators
	. localstack/env && localstack/seed-demo

demo: emulators postgres build
	. localstack/env && localstack/seed-demo
	. localstack/env && localstack/seed-postgres-demo
	. localstack/env && "$(CARGO_TARGET_DIR)/debug/firedrill" run scenarios/quickstart.toml --yes --format html --format markdown --format junit
	. localstack/env && "$(CARGO_TARGET_DIR)/debug/firedrill" run scenarios/postgres-demo.toml --yes --format html --format markdown --format junit
	. localstack/env && vol="$$(localstack/seed-existing-demo)" && \
	sed "s/vol-0123456789abcdef0/$$vol/" scenarios/ebs-volume-random.toml > "$(CARGO_TARGET_DIR)/ebs-volume-random-demo.toml" && \
	"$(CARGO_TARGET_DIR)/debug/firedrill" run "$(CARGO_TARGET_DIR)/ebs-volume-random-demo.toml" --yes --format html --format markdown
	. localstack/env && localstack/seed-app-demo
	. localstack/env && "$(CARGO_TARGET_DIR)/debug/firedrill" run scenarios/app-demo.toml --yes --format html --format markdown --format junit

test: emulators postgres chromium pushgateway target-dir
	. localstack/env && \
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast; \
	else \
		cargo test --workspace --no-fail-fast; \
	fi
	scripts/validate-deploy
	$(MAKE) --no-print-directory image-test

image: target-dir
	scripts/build-image

# The smoke test packs the debug binary the suite already built (stripped),
# so that `make test` does not compile a second profile; `make image` builds
# the optimised one.
image-test: emulators target-dir
	FIREDRILL_IMAGE_PROFILE=$${FIREDRILL_IMAGE_PROFILE:-dev} scripts/build-image
	scripts/image-smoke

validate-deploy: target-dir
	scripts/validate-deploy

lint: target-dir
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

down: emulators-down postgres-down pushgateway-down
