VERIFY_LIB_SRC := $(filter-out verify/verify_main.c,$(wildcard verify/*.c))
$(LIB_VERIFY): $(call objs,$(VERIFY_LIB_SRC))
ALL_OBJS += $(call objs,$(VERIFY_LIB_SRC))
