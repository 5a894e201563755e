# tests/cli/: the one option parser (kernels/train/cli.h) on its own (test_cli_parse), and every
# binary in build/bin with every subcommand it lists held to its rules (test_conformance.sh:
# a new binary is covered as soon as it is built).
CLI_TEST := $(BUILD)/tests/cli
$(CLI_TEST)/test_cli_parse: $(call objs,tests/cli/test_cli_parse.c) $(TRAIN_LIBS)
	$(LINK)
$(CLI_TEST)/test_cli_parse: EXTRA_LDLIBS = $(TRAIN_LDLIBS)
ALL_OBJS += $(call objs,tests/cli/test_cli_parse.c)
tests/cli/test_conformance.sh: $(filter $(BUILD)/bin/%,$(BINS))
TESTS += $(CLI_TEST)/test_cli_parse tests/cli/test_conformance.sh
