# pretrain/: the pretraining (and SFT) stage, on the trainer library (kernels/build.mk).
LIB_PRETRAIN := $(BUILD)/lib/libberry_pretrain.a

PRETRAIN_LIB_SRC := $(filter-out pretrain/main.c,$(wildcard pretrain/*.c))
$(LIB_PRETRAIN): $(call objs,$(PRETRAIN_LIB_SRC))

# Everything a program that pretrains needs, in link order, and the system libraries for it.
# The rollout engine (rollout/build.mk, read after this file: hence its path) is what
# `pretrain generate` and the training-time samples decode with.
PRETRAIN_LIBS := $(LIB_PRETRAIN) $(BUILD)/lib/libberry_rollout.a $(TRAIN_LIBS)
PRETRAIN_LDLIBS = $(TRAIN_LDLIBS)

BINS += $(BUILD)/bin/pretrain
$(BUILD)/bin/pretrain: $(call objs,pretrain/main.c) $(PRETRAIN_LIBS)
	$(LINK)
$(BUILD)/bin/pretrain: EXTRA_LDLIBS = $(PRETRAIN_LDLIBS)

ALL_OBJS += $(call objs,$(PRETRAIN_LIB_SRC) pretrain/main.c)
