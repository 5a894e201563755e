# tests/verify_sandbox/: the sandbox against hostile programs, the code verifier and the
# verify executable (built only where verify/build.mk found <seccomp.h>; skipped otherwise).
ifeq ($(VERIFY_HAVE_SECCOMP),1)
VERIFY_SANDBOX_PROGS := test_sandbox test_code test_verify_cli test_hostile_cli
VERIFY_SANDBOX_TESTS := $(addprefix $(BUILD)/tests/verify_sandbox/,$(VERIFY_SANDBOX_PROGS))

$(VERIFY_SANDBOX_TESTS): EXTRA_LDLIBS = -lseccomp
$(VERIFY_SANDBOX_TESTS): $(BUILD)/tests/verify_sandbox/%: $(BUILD)/obj/tests/verify_sandbox/%.o $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

# test_verify_cli and test_hostile_cli run the verify executable.
$(BUILD)/tests/verify_sandbox/test_verify_cli $(BUILD)/tests/verify_sandbox/test_hostile_cli: | $(BUILD)/bin/verify

TESTS += $(VERIFY_SANDBOX_TESTS)
# The unprivileged path (user namespaces without root), through the verify executable.
TESTS += tests/verify_sandbox/test_unprivileged.sh
# verify import (JSON-lines problems) end to end, with verify check on what it wrote.
TESTS += tests/verify_sandbox/test_import.sh

BENCHES += $(BUILD)/tests/verify_sandbox/bench_sandbox
$(BUILD)/tests/verify_sandbox/bench_sandbox: EXTRA_LDLIBS = -lseccomp
$(BUILD)/tests/verify_sandbox/bench_sandbox: $(call objs,tests/verify_sandbox/bench_sandbox.c) $(LIB_VERIFY) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
ALL_OBJS += $(call objs,tests/verify_sandbox/bench_sandbox.c)
ALL_OBJS += $(call objs,$(addprefix tests/verify_sandbox/,$(addsuffix .c,$(VERIFY_SANDBOX_PROGS))))
else
# Without <seccomp.h> the programs cannot be built: each is a skip that tests/run.sh counts
# (and refuses under CI=true), not a program that silently leaves the suite.
$(foreach t,test_sandbox test_code test_verify_cli test_unprivileged.sh test_import.sh,\
  $(eval $(call skipped_test,verify_sandbox/$(t),<seccomp.h> not found: the sandbox is not built (apt-get install libseccomp-dev))))
endif
