# The front door.  CMake does the building underneath; see README.md.
#   make run      install missing Debian packages, build, run the tour of examples
#   make test     build, run every test with ctest, then again under ASan+UBSan and TSan
#   make bench    build and run the benchmarks (peers side by side, ratios)
#   make fuzz     libFuzzer (clang) on the conn frame decoder and handshake
#                 and the file queue's record decoder, FUZZ_TIME seconds each
#                 (default 60)
#   make install  PREFIX=/usr/local DESTDIR=
PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

BUILD := build
ASAN := build-asan
TSAN := build-tsan
BENCHB := build-bench
FUZZB := build-fuzz
FUZZ_TIME ?= 60
FUZZ_CC ?= clang-14
FUZZ_TARGETS := frame handshake
FUZZ_FILEQ_TARGETS := segment
FUZZ_SRCS := src/*/*.c src/backend/*/*.c src/platform/linux/*.c

.PHONY: all deps build run test test-plain test-asan test-tsan bench fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DSHOAL_BUILD_TESTS=ON -DSHOAL_BUILD_EXAMPLES=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/tour.sh $(BUILD)/examples

test: test-plain test-asan test-tsan
	@echo "make test: plain, ASan+UBSan and TSan suites passed"

test-plain: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=address,undefined -DSHOAL_BUILD_TESTS=ON -DSHOAL_BUILD_EXAMPLES=OFF
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --no-tests=error -j $(JOBS)

test-tsan: deps
	cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE=thread -DSHOAL_BUILD_TESTS=ON -DSHOAL_BUILD_EXAMPLES=OFF
	cmake --build $(TSAN) -j $(JOBS)
	cd $(TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure --no-tests=error -L threads -j $(JOBS)

bench:
	@scripts/install-deps.sh bench
	cmake -S . -B $(BENCHB) -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_BENCH=ON -DSHOAL_BUILD_TESTS=OFF -DSHOAL_BUILD_EXAMPLES=OFF
	cmake --build $(BENCHB) -j $(JOBS)
	@scripts/bench.sh $(BENCHB)/bench

# Each target: the library's sources and test/conn/fuzz_conn.c (or
# test/backend/fuzz_fileq.c) under libFuzzer + ASan + UBSan; new inputs go to
# $(FUZZB)/corpus-<target>, the checked-in seeds (test/<module>/corpus/<target>)
# are read.  A crash fails.
fuzz:
	@scripts/install-deps.sh fuzz
	mkdir -p $(FUZZB)
	for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -D_GNU_SOURCE -DSHOAL_BUILDING -DSHOAL_FUZZ_TARGET=$$t -Iinclude -Isrc \
	    $(FUZZ_SRCS) test/conn/fuzz_conn.c \
	    $$(pkg-config --cflags --libs libcrypto) -pthread -o $(FUZZB)/fuzz_$$t || exit 1; \
	done
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZB)/corpus-$$t; \
	  $(FUZZB)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
	    -artifact_prefix=$(FUZZB)/$$t- $(FUZZB)/corpus-$$t test/conn/corpus/$$t || exit 1; \
	done
	for t in $(FUZZ_FILEQ_TARGETS); do \
	  $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -D_GNU_SOURCE -DSHOAL_BUILDING -DSHOAL_FUZZ_TARGET=$$t -Iinclude -Isrc \
	    $(FUZZ_SRCS) test/backend/fuzz_fileq.c \
	    $$(pkg-config --cflags --libs libcrypto) -pthread -o $(FUZZB)/fuzz_$$t || exit 1; \
	  mkdir -p $(FUZZB)/corpus-$$t; \
	  $(FUZZB)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
	    -artifact_prefix=$(FUZZB)/$$t- $(FUZZB)/corpus-$$t test/backend/corpus/$$t || exit 1; \
	done
	@echo "make fuzz: no crash in $(FUZZ_TIME) s per target"

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(BENCHB) $(FUZZB)
