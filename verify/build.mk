# verify/: task generators, math and code verifiers, the sandbox, and the verify stage.
#
# The sandbox needs libseccomp's header; where it is missing (e.g. a GPU machine without
# libseccomp-dev) the sandbox, the code verifier, build/bin/verify and the sandbox tests
# are skipped, and the rest of the library still builds.
VERIFY_HASH := \#
VERIFY_HAVE_SECCOMP := $(shell echo '$(VERIFY_HASH)include <seccomp.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1)
VERIFY_LIB_SRC := $(filter-out verify/verify_main.c,$(wildcard verify/*.c))
ifneq ($(VERIFY_HAVE_SECCOMP),1)
VERIFY_LIB_SRC := $(filter-out verify/sandbox_%.c verify/code_%.c,$(VERIFY_LIB_SRC))
$(info verify: SKIPPED the sandbox, code verifier and build/bin/verify: <seccomp.h> not found (apt-get install libseccomp-dev))
endif
$(LIB_VERIFY): $(call objs,$(VERIFY_LIB_SRC))
ALL_OBJS += $(call objs,$(VERIFY_LIB_SRC))

ifeq ($(VERIFY_HAVE_SECCOMP),1)
# The harness is embedded with .incbin, which the compiler's dependency output does not see.
$(BUILD)/obj/verify/sandbox_harness.o: verify/sandbox_harness.py

$(BUILD)/bin/verify: EXTRA_LDLIBS = -lseccomp
$(BUILD)/bin/verify: $(call objs,verify/verify_main.c) $(LIB_VERIFY) $(LIB_TRAIN) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)
BINS += $(BUILD)/bin/verify
ALL_OBJS += $(call objs,verify/verify_main.c)
endif
