# reward/: the reward stage (reward/README.md): labels, ORM/PRM training on the trainer library,
# streaming scoring, pruning into SFT data, best-of-N evaluation. A library of everything but the
# dispatcher, so the tests link the pieces.
REWARD_LIB_SRC := $(filter-out reward/main.c,$(wildcard reward/*.c))
LIB_REWARD := $(BUILD)/lib/libberry_reward.a
$(LIB_REWARD): $(call objs,$(REWARD_LIB_SRC))

# Everything a program that uses the reward stage links, in link order (the verify library for
# the math answers of majority vote: only its math objects are pulled in, no sandbox).
REWARD_LIBS := $(LIB_REWARD) $(LIB_VERIFY) $(TRAIN_LIBS)
REWARD_LDLIBS = $(TRAIN_LDLIBS)

BINS += $(BUILD)/bin/reward
$(BUILD)/bin/reward: $(call objs,reward/main.c) $(REWARD_LIBS)
	$(LINK)
$(BUILD)/bin/reward: EXTRA_LDLIBS = $(REWARD_LDLIBS)

ALL_OBJS += $(call objs,$(REWARD_LIB_SRC) reward/main.c)
