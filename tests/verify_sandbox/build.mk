# tests/verify_sandbox/: the sandbox against hostile programs, the code verifier and the
# verify executable (built only where verify/build.mk found <seccomp.h>).
ifeq ($(VERIFY_HAVE_SECCOMP),1)
VERIFY_SANDBOX_TESTS := $(BUILD)/tests/verify_sandbox/test_sandbox

$(BUILD)/tests/verify_sandbox/test_sandbox: EXTRA_LDLIBS = -lseccomp
$(BUILD)/tests/verify_sandbox/test_sandbox: $(call objs,tests/verify_sandbox/test_sandbox.c) $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

TESTS += $(VERIFY_SANDBOX_TESTS)
ALL_OBJS += $(call objs,tests/verify_sandbox/test_sandbox.c)
endif
