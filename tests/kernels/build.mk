# tests/kernels: the kernel library's CPU tests (ops against double-precision references).
TESTS += $(BUILD)/tests/kernels/test_cpu_ops
$(BUILD)/tests/kernels/test_cpu_ops: $(call objs,tests/kernels/test_cpu_ops.c) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(BUILD)/tests/kernels/test_cpu_ops: EXTRA_LDLIBS = $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,tests/kernels/test_cpu_ops.c)
