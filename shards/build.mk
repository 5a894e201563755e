# shards/: the shard container, record kinds, shard directories and streaming, the token
# source, the BPE tokenizer (shards/tokenizer*.c), and the `shards` tool.
SHARDS_TOOL_SRC := shards/shards_main.c $(wildcard shards/cmd_*.c)
SHARDS_SRC := $(filter-out $(SHARDS_TOOL_SRC),$(wildcard shards/*.c))

$(LIB_SHARDS): $(call objs,$(SHARDS_SRC))

$(BUILD)/bin/shards: $(call objs,$(SHARDS_TOOL_SRC)) $(LIB_TRAIN) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

BINS += $(BUILD)/bin/shards
ALL_OBJS += $(call objs,$(SHARDS_SRC) $(SHARDS_TOOL_SRC))
