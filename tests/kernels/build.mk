# tests/kernels: the kernel library on the CPU backend — every op against double-precision
# references (test_cpu_ops), the decoding ops and the paged GPT-2 decoder (test_cpu_decode),
# the GPT-2 model (test_model), and the op benchmarks.
TESTS += $(BUILD)/tests/kernels/test_cpu_ops
TESTS += $(BUILD)/tests/kernels/test_cpu_decode
TESTS += $(BUILD)/tests/kernels/test_model
TESTS += $(BUILD)/tests/kernels/test_rl
BENCHES += $(BUILD)/tests/kernels/bench_cpu_ops $(BUILD)/tests/kernels/bench_cpu_step $(BUILD)/tests/kernels/bench_cpu_decode
$(BUILD)/tests/kernels/%: $(call objs,tests/kernels/%.c) $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(BUILD)/tests/kernels/%: EXTRA_LDLIBS = $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,$(wildcard tests/kernels/*.c))
# Keep the objects (built through the pattern rule above, make would delete them as
# intermediates and recompile them on every `make test`).
.SECONDARY: $(call objs,$(wildcard tests/kernels/*.c))
