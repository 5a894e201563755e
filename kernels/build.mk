# kernels/: the base helpers, the compute library (CPU backend always, CUDA backend when nvcc
# is found) and the GPT-2 model.
BASE_SRC := kernels/base.c
KERNELS_SRC := kernels/dispatch.c $(wildcard kernels/gpt2*.c kernels/cpu/*.c)
ifeq ($(USE_CUDA),1)
KERNELS_CU := $(wildcard kernels/cuda/*.cu) $(if $(filter 1,$(USE_CUDNN)),kernels/cuda/cuda_attention_cudnn.cpp)
else
KERNELS_CU :=
KERNELS_SRC += kernels/cuda_absent.c
endif

$(LIB_BASE): $(call objs,$(BASE_SRC))
# A stamp per CUDA setting, so switching USE_CUDA rebuilds the archive from the right objects.
KERNELS_STAMP := $(BUILD)/obj/kernels/.cuda-$(USE_CUDA)-$(USE_CUDNN)
$(KERNELS_STAMP):
	@mkdir -p $(@D); rm -f $(@D)/.cuda-*; touch $@
$(LIB_KERNELS): $(call objs,$(KERNELS_SRC) $(KERNELS_CU)) $(KERNELS_STAMP)
ALL_OBJS += $(call objs,$(BASE_SRC) $(KERNELS_SRC) $(KERNELS_CU))
