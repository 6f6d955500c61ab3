# Convenience targets around meson; everything real lives in meson.build.
#   make          build (./build)
#   make check    install missing packages, build, run every test tier
#   make demo     install missing packages, build, run the edu DMA demo
#   make bench    benchmarks (release build in ./build-release)
#   make fuzz     libFuzzer targets for FUZZ_SECONDS each (clang)
#   make docs     Sphinx HTML and man pages
BUILD ?= build
CONFIGURE_FLAGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps check demo bench fuzz docs clean format

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	@./scripts/install-deps.sh
	./configure --builddir=$(BUILD) $(CONFIGURE_FLAGS)

check: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

demo: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	./scripts/demo.sh $(BUILD)

bench: deps
	@[ -f build-release/build.ninja ] || ./configure --builddir=build-release --release
	ninja -C build-release
	./build-release/bench/vfu-bench $(BENCH_ARGS)

fuzz: deps
	@[ -f build-fuzz/build.ninja ] || ./configure --builddir=build-fuzz --cc=clang --enable-fuzzing
	ninja -C build-fuzz
	./scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

docs: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) docs

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-* 
