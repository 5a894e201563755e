# pretrain/: the pretraining (and SFT) stage, and the data-parallel communication layer it
# runs on (kernels/comm.c, built here into its own archive because it needs MPI/NCCL flags).
LIB_COMM := $(BUILD)/lib/libberry_comm.a
LIB_PRETRAIN := $(BUILD)/lib/libberry_pretrain.a

# comm.c: -DBERRY_MPI when mpi.h was found (MPI_CFLAGS non-empty), -DBERRY_NCCL with the CUDA
# backend. Without MPI the stage runs single-process only.
COMM_CFLAGS := $(if $(strip $(MPI_CFLAGS)),-DBERRY_MPI $(MPI_CFLAGS)) \
               $(if $(filter 1,$(USE_CUDA)),-DBERRY_NCCL -I$(CUDA_HOME)/include -I$(NCCL_HOME)/include)
COMM_LDLIBS := $(if $(strip $(MPI_CFLAGS)),$(MPI_LIBS)) $(if $(filter 1,$(USE_CUDA)),$(NCCL_LIBS))
ifeq ($(strip $(MPI_CFLAGS)),)
$(info pretrain: mpi.h not found (MPI_CFLAGS is empty): building the communication layer single-process only)
endif

# (its own variable: a CFLAGS given on the command line would override a target-specific CFLAGS +=)
$(call objs,kernels/comm.c): TARGET_CFLAGS += $(COMM_CFLAGS)
$(LIB_COMM): $(call objs,kernels/comm.c)

PRETRAIN_LIB_SRC := $(filter-out pretrain/main.c,$(wildcard pretrain/*.c))
$(LIB_PRETRAIN): $(call objs,$(PRETRAIN_LIB_SRC))

# Everything a program that trains needs, in link order, and the system libraries for it.
PRETRAIN_LIBS := $(LIB_PRETRAIN) $(LIB_COMM) $(LIB_SHARDS) $(LIB_KERNELS) $(LIB_BASE)
PRETRAIN_LDLIBS = $(COMM_LDLIBS) $(KERNEL_LDLIBS)

BINS += $(BUILD)/bin/pretrain
$(BUILD)/bin/pretrain: $(call objs,pretrain/main.c) $(PRETRAIN_LIBS)
	$(LINK)
$(BUILD)/bin/pretrain: EXTRA_LDLIBS = $(PRETRAIN_LDLIBS)

ALL_OBJS += $(call objs,kernels/comm.c $(PRETRAIN_LIB_SRC) pretrain/main.c)
