# tests/verify_tasks/: task generators, corpus, problem shards and the math verifier.
VERIFY_TASKS_TESTS := $(BUILD)/tests/verify_tasks/test_math $(BUILD)/tests/verify_tasks/test_tasks \
                      $(BUILD)/tests/verify_tasks/test_code_reference
TESTS += $(VERIFY_TASKS_TESTS)
$(VERIFY_TASKS_TESTS): $(BUILD)/tests/verify_tasks/%: $(call objs,tests/verify_tasks/%.c) $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
ALL_OBJS += $(call objs,$(wildcard tests/verify_tasks/*.c))
