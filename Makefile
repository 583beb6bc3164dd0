# sepi — build, test and run targets. Every target uses the Node >= 24 that
# scripts/toolchain.sh finds or installs (the system Node 20 is end of life).
#
#   make demo    companion call manager + phones booting to Registered (the main job)
#   make test    every test; the last line is "N passed, N failed"
#   make bench   boot-time ratio against dnsmasq+tftpd-hpa+kamailio, memory of 100 phones
#   make setup   Node toolchain + npm dependencies (bin/sepi works after this)
#   make schema  regenerate docs/schema/phone-events.schema.json from src/phone/events.ts
#   make firmware  a firmware load: out/firmware/<load id>.loads and out/firmware/<load id>/ (the
#                esbuild bundle, the boards, the Node runtime from npm: TARGET=arm64 (default) or x64)
#   make image   out/sepi-rootfs-arm64.tar.gz: the load, its Node and a systemd unit to extract over
#                Raspberry Pi OS Lite (docs/image.md); TARGET=x64 for a PC, IMAGE_ARGS="--board NAME"
#   make screenshots  the LCD's main screens as PNGs in docs/images/ (sepi phone screenshot)
#   make fuzz    every codec fuzzed for SEPI_FUZZ_SECONDS (60) each, from a fresh seed (make test runs a fixed one)

SHELL := /bin/bash
NODE = $(shell scripts/toolchain.sh)
NODE_BIN = $(dir $(NODE))
RUN = PATH="$(NODE_BIN):$$PATH" $(NODE) --disable-warning=ExperimentalWarning

.PHONY: setup peers test unit e2e typecheck demo bench schema fuzz firmware image screenshots clean

setup: node_modules/.sepi-installed

node_modules/.sepi-installed: package.json package-lock.json scripts/toolchain.sh
	@scripts/toolchain.sh >/dev/null
	PATH="$(NODE_BIN):$$PATH" npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages for the real peers the tests and the demo talk to (root only).
peers:
	@scripts/install-peers.sh

typecheck: setup
	$(RUN) node_modules/typescript/bin/tsc --noEmit -p .

test: setup peers
	@$(RUN) test/run.ts

unit: setup
	@$(RUN) test/run.ts unit

e2e: setup peers
	@$(RUN) test/run.ts e2e

demo: setup peers
	@$(RUN) src/cli/main.ts demo

bench: setup peers
	@$(RUN) bench/run.ts

fuzz: setup
	@SEPI_FUZZ_SECONDS=$${SEPI_FUZZ_SECONDS:-60} $(RUN) test/unit/fuzz-codecs.test.ts

firmware: setup
	@$(RUN) scripts/build-firmware.ts --target $(or $(TARGET),arm64) $(FIRMWARE_ARGS)

image: setup
	@$(RUN) scripts/build-image.ts --target $(or $(TARGET),arm64) $(IMAGE_ARGS)

screenshots: setup peers
	@$(RUN) scripts/doc-screenshots.ts

schema: setup
	@$(RUN) scripts/phone-events-schema.ts

clean:
	rm -rf .demo .bench
