# shards/: the data plane library (minimal fragment from the tokenizer branch; the shards
# branch's fuller build.mk replaces it): every shards/*.c except the tool's main.
SHARDS_SRC := $(filter-out shards/shards_main.c,$(wildcard shards/*.c))
$(LIB_SHARDS): $(call objs,$(SHARDS_SRC))
ALL_OBJS += $(call objs,$(SHARDS_SRC))
