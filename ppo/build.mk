# ppo/: the PPO stage, on the trainer library (kernels/build.mk) and the tree join (shards/).
LIB_PPO := $(BUILD)/lib/libberry_ppo.a
PPO_LIB_SRC := $(filter-out ppo/main.c,$(wildcard ppo/*.c))
$(LIB_PPO): $(call objs,$(PPO_LIB_SRC))

PPO_LIBS := $(LIB_PPO) $(TRAIN_LIBS)
BINS += $(BUILD)/bin/ppo
$(BUILD)/bin/ppo: $(call objs,ppo/main.c) $(PPO_LIBS)
	$(LINK)
$(BUILD)/bin/ppo: EXTRA_LDLIBS = $(TRAIN_LDLIBS)
ALL_OBJS += $(call objs,$(PPO_LIB_SRC) ppo/main.c)

# build/bin/berry: the RL loop driver (ppo/loop/). It starts the other stages as processes
# and reads their outputs (problem, trajectory and verdict shards; checkpoint headers).
LOOP_SRC := $(wildcard ppo/loop/*.c)
BINS += $(BUILD)/bin/berry
$(BUILD)/bin/berry: $(call objs,$(LOOP_SRC)) $(TRAIN_LIBS)
	$(LINK)
$(BUILD)/bin/berry: EXTRA_LDLIBS = $(TRAIN_LDLIBS)
ALL_OBJS += $(call objs,$(LOOP_SRC))
