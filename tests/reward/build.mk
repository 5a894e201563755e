# tests/reward: the reward stage on the CPU — labels, positions, metrics and answers (test_labels),
# a tiny ORM and PRM that learn (test_learn), the stage's commands on fixtures with kill -9
# restarts and bad inputs (test_reward.sh), and the whole pipeline with the real binaries
# (test_cli.sh, which also runs the device script at toy sizes).
RW_TEST := $(BUILD)/tests/reward
RW_C_TESTS := $(addprefix $(RW_TEST)/,test_labels test_learn)
TESTS += $(RW_C_TESTS) tests/reward/test_reward.sh tests/reward/test_cli.sh tests/reward/test_export.sh

$(RW_TEST)/%: $(call objs,tests/reward/%.c) $(REWARD_LIBS)
	$(LINK)
$(RW_TEST)/%: EXTRA_LDLIBS = $(REWARD_LDLIBS)

# The fixture maker the script tests run (built by `make all`).
BINS += $(RW_TEST)/rw_fixture
ALL_OBJS += $(call objs,$(wildcard tests/reward/*.c))

# tests/reward/device_reward.sh (run by `make device-check`, part reward) needs these on the GPU machine.
DEVICE_PROGS += $(BUILD)/bin/reward $(BUILD)/bin/rollout
