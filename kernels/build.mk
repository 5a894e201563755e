# kernels/: the base helpers, the compute library (CPU backend always, CUDA backend when nvcc
# is found), the GPT-2 model, the communication layer and the trainer library (kernels/train/).
BASE_SRC := kernels/base.c kernels/json.c
# kernels/model_io/: model files of other tools (HF safetensors, llm.c) in and out; gpt2_ckpt.c
# reads them wherever a berry checkpoint is read (kernels/model_io/gpt2_interop.h).
KERNELS_SRC := kernels/dispatch.c $(wildcard kernels/gpt2*.c kernels/cpu/*.c kernels/model_io/*.c)
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

# The data-parallel communication layer (kernels/comm.c): -DBERRY_MPI when mpi.h was found
# (MPI_CFLAGS non-empty), -DBERRY_NCCL with the CUDA backend. Without MPI, trainers run
# single-process only.
LIB_COMM := $(BUILD)/lib/libberry_comm.a
COMM_CFLAGS := $(if $(strip $(MPI_CFLAGS)),-DBERRY_MPI $(MPI_CFLAGS)) \
               $(if $(filter 1,$(USE_CUDA)),-DBERRY_NCCL -I$(CUDA_HOME)/include -I$(NCCL_HOME)/include)
COMM_LDLIBS := $(if $(strip $(MPI_CFLAGS)),$(MPI_LIBS)) $(if $(filter 1,$(USE_CUDA)),$(NCCL_LIBS))
ifeq ($(strip $(MPI_CFLAGS)),)
$(info kernels: mpi.h not found (MPI_CFLAGS is empty): building the communication layer single-process only)
endif
# (its own variable: a CFLAGS given on the command line would override a target-specific CFLAGS +=)
$(call objs,kernels/comm.c): TARGET_CFLAGS += $(COMM_CFLAGS)
$(LIB_COMM): $(call objs,kernels/comm.c)

# The trainer library every training stage links (kernels/train/README.md): options, run log,
# checkpoint directory, trainer state, schedule, data order, feed thread, ZeRO-1 step, plots.
LIB_TRAIN := $(BUILD)/lib/libberry_train.a
TRAIN_SRC := $(wildcard kernels/train/*.c)
$(LIB_TRAIN): $(call objs,$(TRAIN_SRC))

# What a training stage links, in link order (after its own objects and libraries), and the
# system libraries for it.
TRAIN_LIBS := $(LIB_TRAIN) $(LIB_COMM) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
TRAIN_LDLIBS = $(COMM_LDLIBS) $(KERNEL_LDLIBS)
ALL_OBJS += $(call objs,kernels/comm.c $(TRAIN_SRC))
