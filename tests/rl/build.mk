# tests/rl: the RL loop driver (build/bin/berry) end to end at smoke sizes (tests/rl/smoke.conf):
# the report, kill -9 of the driver and of a stage, bad configs.
TESTS += tests/rl/test_loop.sh
# The driver and rollout run on the GPU machine too (the GPU demo).
DEVICE_PROGS += $(BUILD)/bin/berry $(BUILD)/bin/rollout
