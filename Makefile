# berry — one build for every stage.
#
#   make            build every library, stage and test into build/
#   make test       install what is missing, build and run the CPU test suite (what CI runs)
#   make demo       install what is missing, build, run the whole pipeline on built-in data
#   make bench      CPU benchmarks (tokenizer, shards, verifier); GPU ones: make device-check
#   make device-check   GPU tests and benchmarks (run on a machine with a GPU)
#
# Paths that differ between machines are variables; override on the command line, e.g.
#   make CUDA_HOME=/opt/cuda NCCL_HOME=/opt/nccl MPI_HOME=/opt/openmpi XXHASH_INC=/path/include
.DEFAULT_GOAL := all
SHELL := /bin/bash
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

BUILD ?= build
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
OPT ?= -O2
ARCH ?= -march=native
CFLAGS ?=
LDFLAGS ?=

# xxhash is used header-only (XXH_INLINE_ALL): point XXHASH_INC at a directory holding
# xxhash.h where the system has none (e.g. the GPU machine).
XXHASH_INC ?= $(if $(wildcard /usr/include/xxhash.h),,$(wildcard .deps/include))
ZSTD_INC ?=
ZSTD_LIB ?=

CPPFLAGS_ALL := -I. -D_GNU_SOURCE $(if $(XXHASH_INC),-I$(XXHASH_INC)) $(if $(ZSTD_INC),-I$(ZSTD_INC))
CFLAGS_ALL = -std=c11 $(OPT) $(ARCH) -g -fopenmp -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
             -MMD -MP $(TARGET_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(if $(ZSTD_LIB),-L$(ZSTD_LIB)) -lzstd -fopenmp -lm -lpthread

# ---- CUDA (built whenever nvcc is found; CI compiles it but has no GPU to run it) ----------
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
USE_CUDA ?= $(if $(NVCC),1,0)
# Hopper first: sm_90a enables wgmma/TMA paths; compute_90 PTX keeps newer GPUs working.
CUDA_GENCODE ?= -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 --use_fast_math -lineinfo
NCCL_HOME ?= $(CUDA_HOME)
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++ -ldl -lrt

# ---- cuDNN (optional: fused attention; berry's own attention kernels otherwise) ---------------
# The SDPA graph is built through cuDNN's header-only C++ frontend (pip: nvidia-cudnn-frontend,
# installed by tests/deps.sh). On machines where cuDNN lives in a Python wheel:
#   make CUDNN_HOME=$(python3 -c "import nvidia.cudnn as c; print(c.__path__[0])")
CUDNN_HOME ?= $(CUDA_HOME)
CUDNN_INC ?= $(CUDNN_HOME)/include
CUDNN_LIBDIR ?= $(patsubst %/,%,$(dir $(firstword $(wildcard $(CUDNN_HOME)/lib64/libcudnn.so.9 $(CUDNN_HOME)/lib/libcudnn.so.9))))
CUDNN_FRONTEND_INC ?= $(shell python3 -c "import site,os;ps=[os.path.join(p,'include') for p in site.getsitepackages()];print(next((p for p in ps if os.path.exists(os.path.join(p,'cudnn_frontend.h'))),''))" 2>/dev/null)
USE_CUDNN ?= $(if $(and $(filter 1,$(USE_CUDA)),$(wildcard $(CUDNN_INC)/cudnn.h),$(CUDNN_FRONTEND_INC),$(CUDNN_LIBDIR)),1,0)
CUDNN_LIBS = -L$(CUDNN_LIBDIR) -Wl,-rpath,$(CUDNN_LIBDIR) -l:libcudnn.so.9 -lnvrtc
CXXFLAGS_CUDNN = -std=c++17 -O2 -g -I. -D_GNU_SOURCE -I$(CUDA_HOME)/include -I$(CUDNN_INC) -I$(CUDNN_FRONTEND_INC) \
                 -DBERRY_CUDNN -Wno-deprecated-declarations -MMD -MP
NCCL_LIBS = -L$(NCCL_HOME)/lib -L$(NCCL_HOME)/lib64 -Wl,-rpath,$(NCCL_HOME)/lib64 -lnccl

# ---- MPI (multi-process launch for data-parallel training) --------------------------------
MPICC ?= $(shell command -v mpicc 2>/dev/null)
MPI_HOME ?=
ifneq ($(MPI_HOME),)
MPI_CFLAGS ?= -I$(MPI_HOME)/include
MPI_LIBS ?= -L$(MPI_HOME)/lib -Wl,-rpath,$(MPI_HOME)/lib -lmpi
else ifneq ($(MPICC),)
MPI_CFLAGS ?= $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LIBS ?= $(shell $(MPICC) --showme:link 2>/dev/null)
endif

# ---- libraries every module may link (fragments add their objects) --------------------------
LIB_BASE := $(BUILD)/lib/libberry_base.a
LIB_KERNELS := $(BUILD)/lib/libberry_kernels.a
LIB_SHARDS := $(BUILD)/lib/libberry_shards.a
LIB_VERIFY := $(BUILD)/lib/libberry_verify.a

objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst %.cu,$(BUILD)/obj/%.cu.o,$(patsubst %.cpp,$(BUILD)/obj/%.cpp.o,$(1))))

BINS :=
TESTS :=
BENCHES :=
ALL_OBJS :=

# A test that cannot be built here because a dependency is missing never just disappears:
# $(eval $(call skipped_test,NAME,REASON)) puts a placeholder into TESTS that prints
# "SKIPPED: REASON"; tests/run.sh lists it, counts it in its closing line, and under CI=true
# counts it as a failure. REASON is plain text (no commas, quotes or dollar signs).
define skipped_test
TESTS += $(BUILD)/tests/skipped/$(1)
.PHONY: $(BUILD)/tests/skipped/$(1)
$(BUILD)/tests/skipped/$(1):
	@mkdir -p $$(@D); printf '#!/bin/sh\necho "SKIPPED: %s"\n' "$(2)" >$$@ && chmod +x $$@
endef

# Kernel-library link line: the CUDA libraries only when the backend is built in.
KERNEL_LDLIBS = $(if $(filter 1,$(USE_CUDA)),$(CUDA_LIBS)) $(if $(filter 1,$(USE_CUDNN)),$(CUDNN_LIBS))

include kernels/build.mk
include $(filter-out kernels/build.mk,$(wildcard */build.mk))
include $(wildcard tests/*/build.mk)

# ---- rules ------------------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(CUDA_GENCODE) $(NVCCFLAGS) $(CPPFLAGS_ALL) $(if $(filter 1,$(USE_CUDNN)),-DBERRY_CUDNN) -std=c++17 -MMD -MP -c $< -o $@

$(BUILD)/obj/%.cpp.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_CUDNN) -c $< -o $@

$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

# Links a binary from the objects and libraries among its prerequisites (in the order given)
# plus the target-specific EXTRA_LDLIBS.
LINK = @mkdir -p $(@D); echo "LD $@"; $(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(EXTRA_LDLIBS) $(LDLIBS_ALL)

all: $(BINS) $(TESTS)

# `make test` on a fresh machine installs what is missing first, as `make demo` does (as root;
# otherwise tests/deps.sh says what to install); the build and the tests run in a second make,
# which sees what was installed (e.g. <seccomp.h>).
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BINS) $(TESTS)
	@bash tests/run.sh $(TESTS)

bench: $(BINS) $(BENCHES)
	@bash tests/bench/run.sh

# Only what the GPU machine needs (it may lack seccomp.h, so the verify stage is not built).
device-progs: $(DEVICE_PROGS)

device-check: device-progs
	@bash tests/device/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tests/demo.sh

# Installs what a fresh Debian/Ubuntu machine lacks (as root, with apt-get).
deps:
	@bash tests/deps.sh

clean:
	rm -rf $(BUILD)

.PHONY: all test test-run bench device-progs device-check demo deps clean

-include $(ALL_OBJS:.o=.d)
