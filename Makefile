# Skein: build, run, test and benchmark.
#   make run        install libuv1-dev if missing, build in release mode, run vm-examples/hello.ska
#   make build      debug build              make release   release build
#   make test       every test suite         make test-tsan the concurrency suites under TSan
#   make warnings   fail on any compiler warning in the package's own code (CI runs it)
#   make bench      release build, then the benchmark suite beside the peers (bench/run)
#   make dispatch-check  release build, then fail unless Interpreter.run has its replicated
#                   dispatch (bench/dispatch-copies: at least 20 indirect jumps)
#   make docs       the library's DocC documentation with the embedding guide, in .build-docs/docs
#   make clean      remove the build folders and benchmark output
#   make fuzz       build the libFuzzer targets (Fuzz/, a package of its own, so the normal build
#                   never needs the fuzzer runtime) and run each for FUZZ_SECONDS (600)
#   make fuzz-loader, fuzz-assembler, fuzz-run   one target for FUZZ_SECONDS
#   make fuzz-ci    each target for FUZZ_CI_SECONDS (45): what CI runs
#   Any crash, hang or out-of-memory input fails the target; Fuzz/run says where it was saved.
#   FUZZ_OPTIONS passes libFuzzer options, e.g. FUZZ_OPTIONS='-fork=2 -ignore_crashes=1'.
#   docs/security.md says what each target checks.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLE ?= vm-examples/hello.ska
# Test suites run under ThreadSanitizer (a regular expression over suite and test names).
TSAN_FILTER ?= Concurrency|ProcessTests|ProcessTable|SpawnPath|HostFunction|FaultTolerance|HostMailbox|RunResult|RunLimits
FUZZ_SECONDS ?= 600
FUZZ_CI_SECONDS ?= 45
FUZZ_OPTIONS ?=
FUZZ_TARGETS := loader assembler run

.PHONY: docs run build release test test-tsan warnings check-leaks bench dispatch-check clean deps fuzz fuzz-build fuzz-ci $(FUZZ_TARGETS:%=fuzz-%)

# The one libuv check every build goes through: libuv comes from Debian's libuv1-dev, installed
# only when pkg-config cannot find it (with sudo unless already root).
deps:
	@pkg-config --exists libuv 2>/dev/null || { \
		echo "libuv not found: installing libuv1-dev"; \
		$(SUDO) apt-get install -y libuv1-dev pkg-config || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y libuv1-dev pkg-config; }; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	.build/release/vm run $(EXAMPLE)

# The example and CLI tests run the vm executable and the host programs of Examples/, and
# compile a C host against libskein.so, none of which `swift test` alone builds. Tests run one at a time: Swift Testing runs
# synchronous tests on the cooperative pool (two threads on two cores) and many of them block
# in runMain or receive; in one CI run a test that hung held a pool thread for its whole time
# limit, and the async tests (await vm.run, async host functions) starved behind it and failed
# too. Serial, one hang is one failure. 130 s instead of 85 s.
test: deps
	$(SWIFT) build
	$(SWIFT) build --product skein
	$(SWIFT) test --no-parallel

# DocC with the toolchain's own docc (no package plugin needed): the library's symbol graph,
# then the catalog in Sources/Skein/Skein.docc. Its own build folder: other flags would make
# .build rebuild. `docc preview` serves the result.
docs: deps
	$(SWIFT) build --target Skein --scratch-path .build-docs -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc $(CURDIR)/.build-docs/symbol-graphs
	docc convert Sources/Skein/Skein.docc --additional-symbol-graph-dir .build-docs/symbol-graphs \
		--fallback-display-name Skein --fallback-bundle-identifier org.skein.Skein --output-path .build-docs/docs

# A separate build folder: TSan objects differ, and sharing .build would rebuild both each time.
test-tsan: deps
	$(SWIFT) build --product vm --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --scratch-path .build-tsan --sanitize=thread --no-parallel --filter '$(TSAN_FILTER)'

# The library, the CLI and the tests must compile without a warning. SwiftPM builds the
# dependencies (swift-argument-parser) with -suppress-warnings and without this flag, so only
# our own warnings fail it. Its own build folder: other flags would make .build rebuild.
warnings: deps
	$(SWIFT) build --build-tests --scratch-path .build-warnings -Xswiftc -warnings-as-errors

bench: release
	bench/run

dispatch-check: release
	bench/dispatch-copies

clean:
	rm -rf .build .build-tsan .build-warnings bench/out Fuzz/.build

# Every example with an expected output, run by a vm built with AddressSanitizer and
# LeakSanitizer: memory errors or leaks (IO handles, processes, messages) fail the run. Leaks are
# checked on examples that end normally; those that end with a runtime error leave through
# exit(), which does not unwind the command's Swift locals (LSan would report those).
check-leaks: deps
	$(SWIFT) build --product vm -c release --scratch-path .build-asan --sanitize=address
	@fail=0; for f in vm-examples/*.ska vm-examples/*/main.ska; do \
		[ -f "$${f%.ska}.out" ] || continue; \
		expected=$$(cat "$${f%.ska}.exit" 2>/dev/null || echo 0); \
		leaks=$$([ $$expected = 0 ] && echo 1 || echo 0); \
		ASAN_OPTIONS=detect_leaks=$$leaks .build-asan/release/vm run --workers 2 "$$f" > /dev/null 2> .build-asan/stderr.txt; \
		code=$$?; \
		if [ $$code != $$expected ] || grep -q Sanitizer .build-asan/stderr.txt; then \
			echo "FAIL $$f (exit $$code)"; cat .build-asan/stderr.txt; fail=1; fi; \
	done; exit $$fail

# Coverage and AddressSanitizer come from `-Xswiftc -sanitize=fuzzer,address`: SwiftPM's
# `--sanitize=fuzzer --sanitize=address` passes two -sanitize flags and swiftc keeps only the
# last, which loses the coverage. `--sanitize=fuzzer` is still given, for libFuzzer's main.
# `-enable-testing` lets the targets re-sign mutated modules with Skein's own CRC-32.
fuzz-build: deps
	cd Fuzz && $(SWIFT) build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing

$(FUZZ_TARGETS:%=fuzz-%): fuzz-build
	Fuzz/run $(@:fuzz-%=%) $(FUZZ_SECONDS) $(FUZZ_OPTIONS)

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do Fuzz/run $$t $(FUZZ_SECONDS) $(FUZZ_OPTIONS) || fail=1; done; exit $$fail

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)
