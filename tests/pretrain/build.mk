# tests/pretrain: the pretrain stage and its communication layer on the CPU backend.
PT_TEST := $(BUILD)/tests/pretrain
TESTS += $(PT_TEST)/test_units $(PT_TEST)/test_zero $(PT_TEST)/test_loader
TESTS += tests/pretrain/test_comm.sh tests/pretrain/test_pretrain.sh tests/pretrain/test_demo.sh

$(PT_TEST)/%: $(call objs,tests/pretrain/%.c) $(PRETRAIN_LIBS)
	$(LINK)
$(PT_TEST)/%: EXTRA_LDLIBS = $(PRETRAIN_LDLIBS)

# Helpers the script tests run (built by `make all`).
PT_HELPERS := $(PT_TEST)/comm_check $(PT_TEST)/comm_check_nompi
BINS += $(PT_HELPERS)

# comm.c once more, without MPI or NCCL: the single-process build.
$(PT_TEST)/comm_nompi.o: kernels/comm.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@
$(PT_TEST)/comm_check_nompi: $(call objs,tests/pretrain/comm_check.c) $(PT_TEST)/comm_nompi.o $(LIB_KERNELS) $(LIB_BASE)
	$(LINK)
$(PT_TEST)/comm_check_nompi: EXTRA_LDLIBS = $(KERNEL_LDLIBS)

ALL_OBJS += $(call objs,$(wildcard tests/pretrain/*.c)) $(PT_TEST)/comm_nompi.o

# The fault injector for interrupted checkpoint saves (LD_PRELOAD).
BINS += $(PT_TEST)/libfault.so
$(PT_TEST)/libfault.so: tests/pretrain/fault_inject.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -o $@ $< -ldl

BENCHES += $(PT_TEST)/bench_loader

# tests/pretrain/device_pretrain.sh (run by `make device-check`) needs the stage and the shards
# tool on the GPU machine.
DEVICE_PROGS += $(BUILD)/bin/pretrain $(BUILD)/bin/shards
