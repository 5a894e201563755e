# kernels/: the base helpers, the compute library (CPU backend always, CUDA backend when nvcc
# is found) and the GPT-2 model.
BASE_SRC := kernels/base.c
KERNELS_SRC := kernels/dispatch.c $(wildcard kernels/gpt2*.c kernels/cpu/*.c)
ifeq ($(USE_CUDA),1)
KERNELS_CU := $(wildcard kernels/cuda/*.cu)
else
KERNELS_CU :=
KERNELS_SRC += kernels/cuda_absent.c
endif

$(LIB_BASE): $(call objs,$(BASE_SRC))
$(LIB_KERNELS): $(call objs,$(KERNELS_SRC) $(KERNELS_CU))
ALL_OBJS += $(call objs,$(BASE_SRC) $(KERNELS_SRC) $(KERNELS_CU))
