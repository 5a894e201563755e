# rollout/: the rollout stage. The engine (KV block manager, prefix tree, trajectory trees,
# continuous batching) is a library of its own so that device benchmarks link it without the
# shards library; the stage binary adds problem/trajectory IO, the tokenizer and the CLI.
ROLLOUT_BIN_SRC := $(wildcard rollout/cli_*.c)
ROLLOUT_LIB_SRC := $(filter-out $(ROLLOUT_BIN_SRC),$(wildcard rollout/*.c))
LIB_ROLLOUT := $(BUILD)/lib/libberry_rollout.a

$(LIB_ROLLOUT): $(call objs,$(ROLLOUT_LIB_SRC))

$(BUILD)/bin/rollout: $(call objs,$(ROLLOUT_BIN_SRC)) $(LIB_ROLLOUT) $(LIB_TRAIN) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(BUILD)/bin/rollout: EXTRA_LDLIBS = $(KERNEL_LDLIBS)

BINS += $(if $(ROLLOUT_BIN_SRC),$(BUILD)/bin/rollout)
ALL_OBJS += $(call objs,$(ROLLOUT_LIB_SRC) $(ROLLOUT_BIN_SRC))
