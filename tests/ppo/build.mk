# tests/ppo: advantages against hand computations (test_advantage), the stage end to end on
# the CPU with a toy verifier (test_ppo.sh: learning in each advantage mode, resume, bad inputs).
PPO_TEST := $(BUILD)/tests/ppo
TESTS += $(PPO_TEST)/test_advantage tests/ppo/test_ppo.sh
$(PPO_TEST)/test_advantage: $(call objs,tests/ppo/test_advantage.c) $(PPO_LIBS)
	$(LINK)
$(PPO_TEST)/test_advantage: EXTRA_LDLIBS = $(TRAIN_LDLIBS)
# The toy verifier the script test runs (built by `make all`).
BINS += $(PPO_TEST)/toy_verdicts
$(PPO_TEST)/toy_verdicts: $(call objs,tests/ppo/toy_verdicts.c) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
ALL_OBJS += $(call objs,$(wildcard tests/ppo/*.c))
DEVICE_PROGS += $(BUILD)/bin/ppo
