# tests/harness/: the test harness itself — tests/test.h (through the probe program) and
# tests/run.sh (on stand-in programs: passing, crashing, silent, checking nothing, skipped,
# a sanitizer rerun), so that a check or a skip that can no longer fail is caught.
$(BUILD)/tests/harness/probe: $(call objs,tests/harness/probe.c)
	$(LINK)
ALL_OBJS += $(call objs,tests/harness/probe.c)
tests/harness/test_run.sh: $(BUILD)/tests/harness/probe
TESTS += tests/harness/test_run.sh
