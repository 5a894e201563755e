# tests/rollout/: the block manager's property test, the engine's exactness tests (cache
# against recompute, sharing against from-scratch, batch/order/thread invariance, no leak),
# and the stage's end-to-end tests (CLI errors, restarts, policy following).
ROLLOUT_C_TESTS := $(patsubst tests/rollout/%.c,%,$(wildcard tests/rollout/test_*.c))
ROLLOUT_TESTS := $(addprefix $(BUILD)/tests/rollout/,$(ROLLOUT_C_TESTS))
TESTS += $(ROLLOUT_TESTS)
$(ROLLOUT_TESTS): $(BUILD)/tests/rollout/%: $(BUILD)/obj/tests/rollout/%.o $(LIB_ROLLOUT) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(ROLLOUT_TESTS): EXTRA_LDLIBS = $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,$(wildcard tests/rollout/*.c))

# The fixture maker (tokenizer, problem shards, random policies) and the stage's end-to-end test.
RO_FIXTURE := $(BUILD)/tests/rollout/ro_fixture
$(RO_FIXTURE): $(BUILD)/obj/tests/rollout/ro_fixture.o $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(RO_FIXTURE): EXTRA_LDLIBS = $(KERNEL_LDLIBS)
tests/rollout/test_cli.sh: $(BUILD)/bin/rollout $(RO_FIXTURE) $(BUILD)/bin/shards
TESTS += tests/rollout/test_cli.sh
# Issue 20's device script on the CPU: needs the verify stage (verify run), built with <seccomp.h>.
ifeq ($(VERIFY_HAVE_SECCOMP),1)
tests/rollout/test_logprob_temps.sh: $(BUILD)/bin/rollout $(BUILD)/bin/verify $(BUILD)/bin/shards $(RO_FIXTURE) \
                                     $(BUILD)/tests/device/logprob_compare
TESTS += tests/rollout/test_logprob_temps.sh
endif
