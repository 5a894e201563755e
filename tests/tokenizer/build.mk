# tests/tokenizer/: C tests of the tokenizer, the bpe_cli helper that the HF comparison
# test and the benchmark drive, and the HF comparison test itself.
TOK_TESTS := test_pretok test_bpe_encode test_bpe_train test_bpe_io
TOK_CLI := $(BUILD)/tests/tokenizer/bpe_cli

$(foreach t,$(TOK_TESTS),$(eval $(BUILD)/tests/tokenizer/$(t): $(call objs,tests/tokenizer/$(t).c) $(LIB_SHARDS) $(LIB_BASE) ; $$(LINK)))
$(TOK_CLI): $(call objs,tests/tokenizer/bpe_cli.c) $(LIB_SHARDS) $(LIB_BASE)
	$(LINK)

# The script runs bpe_cli; listing it as a prerequisite builds bpe_cli with `make all/test`.
tests/tokenizer/test_hf_compare.py: $(TOK_CLI)

TESTS += $(addprefix $(BUILD)/tests/tokenizer/,$(TOK_TESTS)) tests/tokenizer/test_hf_compare.py
BENCHES += $(TOK_CLI)
ALL_OBJS += $(call objs,$(addprefix tests/tokenizer/,$(addsuffix .c,$(TOK_TESTS)) bpe_cli.c))
