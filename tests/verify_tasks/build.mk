# tests/verify_tasks/: task generators, corpus, problem shards and the math verifier.
VERIFY_TASKS_TESTS := $(BUILD)/tests/verify_tasks/test_math $(BUILD)/tests/verify_tasks/test_tasks \
                      $(BUILD)/tests/verify_tasks/test_code_reference $(BUILD)/tests/verify_tasks/test_tasks_shards
TESTS += $(VERIFY_TASKS_TESTS)
$(VERIFY_TASKS_TESTS): $(BUILD)/tests/verify_tasks/%: $(call objs,tests/verify_tasks/%.c) $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
ALL_OBJS += $(call objs,$(wildcard tests/verify_tasks/*.c))

# The math verifier's tests (with their fuzz run) once more under AddressSanitizer and
# UBSan, where the compiler supports them.
VERIFY_TASKS_ASAN := $(shell echo 'int main(void){return 0;}' | $(CC) -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null && echo 1)
ifeq ($(VERIFY_TASKS_ASAN),1)
TESTS += $(BUILD)/tests/verify_tasks/test_math_asan
$(BUILD)/tests/verify_tasks/test_math_asan: tests/verify_tasks/test_math.c $(wildcard verify/math_*.c) kernels/base.c \
                                           $(wildcard verify/math*.h) kernels/base.h tests/test.h
	@mkdir -p $(@D); echo "CC+LD (asan, ubsan) $@"
	$(CC) $(CPPFLAGS_ALL) -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	    $(filter %.c,$^) -o $@ $(LDLIBS_ALL)
else
$(eval $(call skipped_test,verify_tasks/test_math_asan,$(CC) cannot build with the address and undefined-behaviour sanitizers (install their runtimes: libasan and libubsan)))
endif

BENCHES += $(BUILD)/tests/verify_tasks/bench_math
$(BUILD)/tests/verify_tasks/bench_math: $(call objs,tests/verify_tasks/bench_math.c) $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
