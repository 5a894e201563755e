# tests/shards/: container, records, directories and streaming, kill -9 tests, the tool,
# a sanitizer build of the corruption test, and a bounded libFuzzer run over the reader.
SHARDS_TESTS_C := $(wildcard tests/shards/test_*.c)
SHARDS_TEST_BINS := $(patsubst tests/shards/%.c,$(BUILD)/tests/shards/%,$(SHARDS_TESTS_C))

$(SHARDS_TEST_BINS): $(BUILD)/tests/shards/%: $(BUILD)/obj/tests/shards/%.o $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

TESTS += $(SHARDS_TEST_BINS)
ALL_OBJS += $(call objs,$(SHARDS_TESTS_C))

# ---- clang builds: AddressSanitizer/UBSan corruption test, libFuzzer target ------------------
# The library sources are recompiled with clang and the sanitizers (no OpenMP: they do not use it).
SAN_CC ?= clang
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
SHARDS_SAN_LIB_SRC := kernels/base.c kernels/json.c $(filter-out shards/tokenizer%.c,$(SHARDS_SRC))  # the tokenizer is tested elsewhere
SAN_CFLAGS = -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-unknown-pragmas -MMD -MP

$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	$(SAN_CC) $(CPPFLAGS_ALL) $(SAN_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(SAN_CC) $(CPPFLAGS_ALL) $(SAN_CFLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g -O1 -c $< -o $@

SHARDS_SAN_OBJS := $(patsubst %.c,$(BUILD)/san/%.o,$(SHARDS_SAN_LIB_SRC))
SHARDS_FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(SHARDS_SAN_LIB_SRC) tests/shards/fuzz_shard.c)

$(BUILD)/tests/shards/test_corrupt_san: $(BUILD)/san/tests/shards/test_corrupt.o $(SHARDS_SAN_OBJS)
	@mkdir -p $(@D); echo "LD $@"
	$(SAN_CC) $(SAN_FLAGS) -o $@ $^ $(if $(ZSTD_LIB),-L$(ZSTD_LIB)) -lzstd -lm -lpthread

$(BUILD)/tests/shards/test_records_san: $(BUILD)/san/tests/shards/test_records.o $(SHARDS_SAN_OBJS)
	@mkdir -p $(@D); echo "LD $@"
	$(SAN_CC) $(SAN_FLAGS) -o $@ $^ $(if $(ZSTD_LIB),-L$(ZSTD_LIB)) -lzstd -lm -lpthread

$(BUILD)/tests/shards/test_json_san: $(BUILD)/san/tests/shards/test_json.o $(SHARDS_SAN_OBJS)
	@mkdir -p $(@D); echo "LD $@"
	$(SAN_CC) $(SAN_FLAGS) -o $@ $^ $(if $(ZSTD_LIB),-L$(ZSTD_LIB)) -lzstd -lm -lpthread

$(BUILD)/fuzz/fuzz_shard: $(SHARDS_FUZZ_OBJS)
	@mkdir -p $(@D); echo "LD $@"
	$(SAN_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(if $(ZSTD_LIB),-L$(ZSTD_LIB)) -lzstd -lm -lpthread

$(BUILD)/tests/shards/gen_corpus: $(BUILD)/obj/tests/shards/gen_corpus.o $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

# Script tests are copied next to the binaries they drive.
$(BUILD)/tests/shards/fuzz_reader: tests/shards/fuzz_reader.sh $(BUILD)/fuzz/fuzz_shard $(BUILD)/tests/shards/gen_corpus
	@mkdir -p $(@D)
	cp $< $@ && chmod +x $@

# Without clang (e.g. a GPU machine that only builds), `make all` still works and `make test`
# reports the missing sanitizer/fuzzer tests as one failure.
HAVE_SAN_CC := $(shell command -v $(SAN_CC) >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_SAN_CC),1)
TESTS += $(BUILD)/tests/shards/test_corrupt_san $(BUILD)/tests/shards/test_records_san $(BUILD)/tests/shards/test_json_san \
    $(BUILD)/tests/shards/fuzz_reader
else
$(BUILD)/tests/shards/sanitizers_unavailable:
	@mkdir -p $(@D)
	printf '#!/bin/sh\necho "$(SAN_CC) not found: the ASan/UBSan and libFuzzer tests of shards cannot run (make deps installs clang)"\necho "0 passed, 1 failed"\nexit 1\n' >$@ && chmod +x $@
TESTS += $(BUILD)/tests/shards/sanitizers_unavailable
endif
ALL_OBJS += $(call objs,tests/shards/gen_corpus.c)
-include $(SHARDS_SAN_OBJS:.o=.d) $(SHARDS_FUZZ_OBJS:.o=.d) $(BUILD)/san/tests/shards/test_corrupt.d $(BUILD)/san/tests/shards/test_records.d \
    $(BUILD)/san/tests/shards/test_json.d

$(BUILD)/tests/shards/make_fixtures: $(BUILD)/obj/tests/shards/make_fixtures.o $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

$(BUILD)/tests/shards/test_tool: tests/shards/test_tool.sh $(BUILD)/bin/shards
	@mkdir -p $(@D)
	cp $< $@ && chmod +x $@

TESTS += $(BUILD)/tests/shards/test_tool
ALL_OBJS += $(call objs,tests/shards/make_fixtures.c)

# CPU benchmark (tests/bench/bench_shards.sh).
$(BUILD)/tests/shards/bench_shards: $(BUILD)/obj/tests/shards/bench_shards.o $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

BENCHES += $(BUILD)/tests/shards/bench_shards
ALL_OBJS += $(call objs,tests/shards/bench_shards.c)
