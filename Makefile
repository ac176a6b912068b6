# Thin front door: every target delegates to cmake/ctest or a script in deploy/.
#   make deps        install missing Debian packages (deploy/install-deps.sh)
#   make build       configure build/ (preset default) and build with -j2
#   make test        deps + build + the ctest suite but its long fault variants (services start/stop via fixtures)
#   make test-asan   ASan+UBSan build in build-asan/, unit + integration tests
#   make test-faults fault-injection tests (label fault)
#   make bench       build and run bench/run.sh: bench/results.md + plots (BENCH_QUICK=1: smoke)
#   make demo        the demo: services, consumer, a fleet of example scrapers, the answers (deploy/demo.sh); DEMO_EXIT=1 to exit by itself
#   make format / format-check   clang-format over our *.c/*.h (.clang-format)
#   make clean       stop leftover services, remove build/ and build-asan/
SHELL := /bin/bash
JOBS ?= 2
# Override to keep several checkouts/engineers apart, e.g. make test BUILD_DIR=build-me
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
CTEST_ARGS ?=
SRC_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) -print)

.PHONY: all deps build build-asan test test-asan test-faults bench demo format format-check clean

all: build

deps:
	@deploy/install-deps.sh

build:
	cmake --preset default -B $(BUILD_DIR) >/dev/null
	cmake --build $(BUILD_DIR) -j$(JOBS)

build-asan:
	cmake --preset asan -B $(ASAN_DIR) >/dev/null
	cmake --build $(ASAN_DIR) -j$(JOBS)

# The long fault variants (label fault only) and bench.smoke stay out of make test: every test
# in it carries unit, integration or browser (short fault variants are integration;fault).
test: deps build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -L '^(unit|integration|browser)$$' $(CTEST_ARGS)

test-asan: deps build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -L 'unit|integration' $(CTEST_ARGS)

test-faults: deps build
	@rc=0; ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -L fault $(CTEST_ARGS) || rc=$$?; \
	  python3 tests/faults/report.py $(BUILD_DIR)/faults/report.tsv || rc=1; exit $$rc

bench: deps build
	@if [ -x bench/run.sh ]; then RUNTRACK_BUILD_DIR=$(abspath $(BUILD_DIR)) bench/run.sh; \
	else echo "make bench: no bench/run.sh yet (benchmarks are added by later issues)"; fi

demo:
	RUNTRACK_BUILD_DIR=$(abspath $(BUILD_DIR)) deploy/demo.sh

format:
	clang-format -i $(SRC_FILES)

format-check:
	clang-format --dry-run --Werror $(SRC_FILES)

clean:
	@for d in $(BUILD_DIR) $(ASAN_DIR); do \
	  [ ! -d $$d/services ] || deploy/services.sh stop $$d/services; done
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
