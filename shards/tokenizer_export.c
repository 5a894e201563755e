// tokenizer_export.c — a berry vocabulary for other tools: a Hugging Face tokenizer directory
// (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json) and
// llm.c's tokenizer file. See tokenizer.h and shards/TOKENIZER.md, "Exporting".
#include <stdlib.h>
#include <string.h>

#include "shards/task_format.h"
#include "shards/tokenizer.h"

#define LLMC_TOKENIZER_MAGIC 20240328
#define LLMC_TOKENIZER_VERSION 2

static char *path_in(const char *dir, const char *name) { return xasprintf("%s/%s", dir, name); }

static int write_memstream(const char *path, char *buf, size_t len, berr *e) {
    int rc = write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

// The ByteLevel steps as HF's GPT-2 tokenizer.json has them; berry's digits mode puts
// Digits(individual_digits) in front (what BPE_PRETOK_DIGITS is, shards/TOKENIZER.md).
static const char *BYTELEVEL = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}";

int bpe_save_hf(const bpe *t, const char *dir, int model_max_length, berr *e) {
    char *vj = path_in(dir, "vocab.json"), *mt = path_in(dir, "merges.txt");
    char *vtext = NULL, *mtext = NULL;
    size_t vlen = 0, mlen = 0;
    int rc = bpe_save_gpt2(t, vj, mt, e);
    if (!rc) rc = read_file(vj, &vtext, &vlen, e);
    if (!rc) rc = read_file(mt, &mtext, &mlen, e);
    int eot = bpe_special(t, BERRY_EOT);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = rc ? NULL : open_memstream(&buf, &len);
    if (!rc && !f) rc = berr_set(e, "open_memstream failed");
    if (!rc) {
        fputs("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [", f);
        for (int i = 0; i < bpe_num_specials(t); i++) {
            int id = bpe_special_at(t, i);
            size_t n;
            const char *s = bpe_token_bytes(t, (uint32_t)id, &n);
            fprintf(f, "%s\n    {\"id\": %d, \"content\": ", i ? "," : "", id);
            json_string(f, s, n);
            fputs(", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}", f);
        }
        fputs("\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": ", f);
        if (bpe_pretok_mode(t) == BPE_PRETOK_DIGITS)
            fprintf(f, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", \"individual_digits\": true}, %s]}",
                    BYTELEVEL);
        else fputs(BYTELEVEL, f);
        fprintf(f, ",\n  \"post_processor\": %s,\n  \"decoder\": %s,\n", BYTELEVEL, BYTELEVEL);
        fputs("  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": \"\", "
              "\"end_of_word_suffix\": \"\", \"fuse_unk\": false,\n  \"vocab\": ", f);
        fwrite(vtext, 1, vlen && vtext[vlen - 1] == '\n' ? vlen - 1 : vlen, f);  // vocab.json is that object already
        fputs(",\n  \"merges\": [", f);
        // merges.txt: "#version" then "left right" per line; tokens hold no space or newline.
        size_t i = 0, k = 0;
        while (i < mlen) {
            char *nl = memchr(mtext + i, '\n', mlen - i);
            size_t n = nl ? (size_t)(nl - (mtext + i)) : mlen - i;
            if (n && mtext[i] != '#') {
                fputs(k++ ? ",\n    " : "\n    ", f);
                json_string(f, mtext + i, n);
            }
            i += n + 1;
        }
        fputs("\n  ]}\n}\n", f);
        fclose(f);
        char *p = path_in(dir, "tokenizer.json");
        rc = write_memstream(p, buf, len, e);
        free(p);
    }
    // bos = eos = <|endoftext|> (GPT-2's convention); the other specials are additional ones.
    size_t en = 0;
    const char *es = eot >= 0 ? bpe_token_bytes(t, (uint32_t)eot, &en) : NULL;
    for (int which = 0; !rc && which < 2; which++) {
        f = open_memstream(&buf, &len);
        if (!f) {
            rc = berr_set(e, "open_memstream failed");
            break;
        }
        fputs("{\n", f);
        if (which == 0)  // PreTrainedTokenizerFast reads tokenizer.json as written (GPT2Tokenizer would rebuild
                         // the ByteLevel pre-tokeniser and lose the digits split)
            fprintf(f, "  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"model_max_length\": %d,\n"
                       "  \"add_prefix_space\": false,\n  \"clean_up_tokenization_spaces\": false,\n", model_max_length);
        if (es) {
            static const char *const keys[] = {"bos_token", "eos_token", "unk_token"};
            for (int k = 0; k < 3; k++) {
                fprintf(f, "  \"%s\": ", keys[k]);
                json_string(f, es, en);
                fputs(",\n", f);
            }
        }
        fputs("  \"additional_special_tokens\": [", f);
        int first = 1;
        for (int i = 0; i < bpe_num_specials(t); i++) {
            int id = bpe_special_at(t, i);
            if (id == eot) continue;
            size_t n;
            const char *s = bpe_token_bytes(t, (uint32_t)id, &n);
            fputs(first ? "" : ", ", f);
            json_string(f, s, n);
            first = 0;
        }
        fputs("]\n}\n", f);
        fclose(f);
        char *p = path_in(dir, which == 0 ? "tokenizer_config.json" : "special_tokens_map.json");
        rc = write_memstream(p, buf, len, e);
        free(p);
    }
    free(vtext), free(mtext), free(vj), free(mt);
    return rc;
}

int bpe_save_llmc(const bpe *t, const char *path, int eot, berr *e) {
    int V = bpe_vocab_size(t);
    if (eot < 0 || eot >= V) return berr_set(e, "%s: end-of-text id %d is not in the vocabulary of %d", path, eot, V);
    bbuf b = {0};
    bbuf_u32(&b, LLMC_TOKENIZER_MAGIC);
    bbuf_u32(&b, LLMC_TOKENIZER_VERSION);
    bbuf_u32(&b, (uint32_t)V);
    bbuf_u32(&b, (uint32_t)eot);
    for (int i = 4; i < 256; i++) bbuf_u32(&b, 0);
    for (int id = 0; id < V; id++) {
        size_t n;
        const char *s = bpe_token_bytes(t, (uint32_t)id, &n);
        if (n == 0 || n > 255) {  // llm.c stores a token's length in one byte and refuses 0
            bbuf_free(&b);
            return berr_set(e, "%s: token %d is %zu bytes; llm.c's tokenizer file holds 1 to 255", path, id, n);
        }
        bbuf_u8(&b, (uint8_t)n);
        bbuf_put(&b, s, n);
    }
    int rc = write_file_atomic(path, b.p, b.n, e);
    bbuf_free(&b);
    return rc;
}
