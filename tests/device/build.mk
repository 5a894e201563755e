# Device-only programs: CUDA ops and model against the CPU reference, and the training
# benchmark. Built by `make`, run by `make device-check` on a machine with a GPU.
DEVICE_PROGS := $(BUILD)/tests/device/test_cuda_ops $(BUILD)/tests/device/test_cuda_model \
                $(BUILD)/tests/device/test_cuda_decode $(BUILD)/tests/device/test_cuda_rl $(BUILD)/tests/device/bench_gpt2 $(BUILD)/tests/device/bench_ops \
                $(BUILD)/tests/device/bench_rollout $(BUILD)/tests/device/logprob_compare
BINS += $(DEVICE_PROGS)
$(BUILD)/tests/device/%: $(call objs,tests/device/%.c) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(DEVICE_PROGS): EXTRA_LDLIBS = $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,$(wildcard tests/device/*.c))
# The rollout benchmark links the rollout engine (rollout/build.mk) before the kernels.
$(BUILD)/tests/device/bench_rollout: $(call objs,tests/device/bench_rollout.c) $(LIB_ROLLOUT) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
# The log-prob comparison (logprob_temps.sh) reads trajectory shards: it links the shards library.
$(BUILD)/tests/device/logprob_compare: $(call objs,tests/device/logprob_compare.c) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
