# Skein: build, run, test and benchmark.
#   make run    install libuv1-dev if missing, build in release mode, run vm-examples/hello.ska
#   make test   install libuv1-dev if missing, run every test
#   make bench  release build, then the benchmark suite beside the peers (bench/run)

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLE ?= vm-examples/hello.ska

.PHONY: run build release test test-tsan bench clean deps

# libuv comes from Debian's libuv1-dev; install it only when pkg-config cannot find it.
deps:
	@pkg-config --exists libuv || { echo "installing libuv1-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libuv1-dev pkg-config; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	.build/release/vm run $(EXAMPLE)

test: deps
	$(SWIFT) build --product vm
	$(SWIFT) test

# The concurrency suites under ThreadSanitizer (separate build folder: TSan objects differ).
test-tsan: deps
	$(SWIFT) build --product vm --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --scratch-path .build-tsan --sanitize=thread --filter 'Concurrency|ProcessTests'

bench: release
	bench/run

clean:
	rm -rf .build .build-tsan
