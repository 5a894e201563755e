# tests/interop: models in and out as Hugging Face safetensors and llm.c files (issue 15):
# round trips, an independent numpy forward, refusals of damaged files (test_interop.sh); the
# GPU machine's transformers comparison is tests/interop/device_interop.sh.
IO_TEST := $(BUILD)/tests/interop
TESTS += tests/interop/test_interop.sh

# The helper the scripts run (built by `make all`).
BINS += $(IO_TEST)/interop_tool
$(IO_TEST)/interop_tool: $(call objs,tests/interop/interop_tool.c) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(IO_TEST)/interop_tool: EXTRA_LDLIBS = $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,tests/interop/interop_tool.c)

DEVICE_PROGS += $(IO_TEST)/interop_tool
