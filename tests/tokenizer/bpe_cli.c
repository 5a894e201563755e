// bpe_cli — a small driver over the tokenizer API for the HF comparison test and the
// benchmark (the user-facing tool is `shards tokenize` / `shards train-tokenizer`).
//
// Texts travel in a "records" file: for each text, its length in decimal, '\n', the bytes,
// '\n'. That carries any bytes (newlines, NULs, invalid UTF-8) without escaping.
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/base.h"
#include "shards/tokenizer.h"
#include "shards/tokenizer_pretok.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static void usage(FILE *f) {
    fputs("usage: bpe_cli COMMAND [options]\n"
          "  classes                                    print the class digit (0 other, 1 letter, 2 number,\n"
          "                                             3 space) of every code point U+0000..U+10FFFF\n"
          "  pretok --pretok MODE --input RECORDS       print each text's pre-tokens (hex, space-separated)\n"
          "  train  --input TEXT --vocab-size N --pretok MODE [--special S]...\n"
          "         --vocab-json F --merges-txt F [--save F]      train and write the files\n"
          "  encode VOCAB --input RECORDS               print each text's ids\n"
          "  decode VOCAB --input RECORDS               each record holds ids (space-separated); print the\n"
          "                                             decoded bytes as records\n"
          "  bench  VOCAB --input RECORDS [--repeat N]  time encoding every text with one encoder; print\n"
          "                                             seconds (best of N), MB/s and an XXH64 of the ids\n"
          "VOCAB is --load FILE (berry's file) or --vocab-json F --merges-txt F --pretok MODE, plus\n"
          "optional --special S (repeatable) to add special tokens. MODE is gpt2 or digits.\n",
          f);
}

typedef struct {
    char *buf;     // the whole file; text[i] point into it
    char **text;
    size_t *len, n;
    size_t total;
} records;

static void free_records(records *r) {
    free(r->buf);
    free(r->text);
    free(r->len);
}

static void read_records(const char *path, records *r) {
    char *buf;
    size_t size;
    berr e;
    if (read_file(path, &buf, &size, &e)) die("%s", e.msg);
    size_t cap = 1024, pos = 0;
    r->text = xmalloc(cap * sizeof *r->text);
    r->len = xmalloc(cap * sizeof *r->len);
    r->n = r->total = 0;
    r->buf = buf;
    while (pos < size) {
        char *nl = memchr(buf + pos, '\n', size - pos);
        if (!nl) die("%s: byte offset %zu: record length line has no newline", path, pos);
        *nl = 0;
        int64_t len;
        if (parse_i64("record length", buf + pos, 0, INT64_MAX, &len, &e)) die("%s: byte offset %zu: %s", path, pos, e.msg);
        size_t start = (size_t)(nl - buf) + 1;
        if ((uint64_t)len > size - start || size - start - (size_t)len < 1 || buf[start + len] != '\n')
            die("%s: byte offset %zu: record of %lld bytes runs past the end or lacks its closing newline", path, start,
                (long long)len);
        if (r->n == cap) {
            cap *= 2;
            r->text = xrealloc(r->text, cap * sizeof *r->text);
            r->len = xrealloc(r->len, cap * sizeof *r->len);
        }
        r->text[r->n] = buf + start;
        r->len[r->n++] = (size_t)len;
        r->total += (size_t)len;
        pos = start + (size_t)len + 1;
    }
}

static void progress(void *ctx, const char *phase, int64_t done, int64_t total) {
    (void)ctx;
    fprintf(stderr, "train: %s %lld/%lld\n", phase, (long long)done, (long long)total);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    const char *input = NULL, *load = NULL, *vocab_json = NULL, *merges_txt = NULL, *save = NULL, *mode = NULL;
    const char *specials[64];
    int nspecials = 0, vocab_size = 0, repeat = 1;
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},      {"load", required_argument, 0, 'l'},
        {"vocab-json", required_argument, 0, 'v'}, {"merges-txt", required_argument, 0, 'm'},
        {"save", required_argument, 0, 's'},       {"pretok", required_argument, 0, 'p'},
        {"special", required_argument, 0, 'S'},    {"vocab-size", required_argument, 0, 'n'},
        {"repeat", required_argument, 0, 'r'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    berr e;
    optind = 2;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'l': load = optarg; break;
        case 'v': vocab_json = optarg; break;
        case 'm': merges_txt = optarg; break;
        case 's': save = optarg; break;
        case 'p': mode = optarg; break;
        case 'S':
            if (nspecials == 64) die("--special: at most 64");
            specials[nspecials++] = optarg;
            break;
        case 'n':
            if (parse_int("--vocab-size", optarg, 256, 1 << 24, &vocab_size, &e)) die("%s", e.msg);
            break;
        case 'r':
            if (parse_int("--repeat", optarg, 1, 1000, &repeat, &e)) die("%s", e.msg);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) die("unexpected argument '%s' (see --help)", argv[optind]);
    if (!strcmp(cmd, "classes")) {
        for (uint32_t cp = 0; cp < 0x110000; cp++) putchar('0' + bpe_uc_class(cp));
        putchar('\n');
        return 0;
    }
    if (!input) die("--input is required (see --help)");
    int pretok = mode ? bpe_pretok_from_name(mode) : -1;
    if (mode && pretok < 0) die("--pretok must be gpt2 or digits, got '%s'", mode);
    fprintf(stderr, "bpe_cli %s: input=%s load=%s vocab-json=%s merges-txt=%s pretok=%s specials=%d\n", cmd, input,
            load ? load : "-", vocab_json ? vocab_json : "-", merges_txt ? merges_txt : "-", mode ? mode : "-", nspecials);

    if (!strcmp(cmd, "pretok")) {
        if (pretok < 0) die("pretok needs --pretok");
        records r;
        read_records(input, &r);
        for (size_t k = 0; k < r.n; k++) {
            const uint8_t *s = (const uint8_t *)r.text[k];
            for (size_t i = 0; i < r.len[k];) {
                size_t j = bpe_pretok_next(s, r.len[k], i, pretok == BPE_PRETOK_DIGITS);
                if (i) putchar(' ');
                for (size_t q = i; q < j; q++) printf("%02x", s[q]);
                i = j;
            }
            putchar('\n');
        }
        free_records(&r);
        return 0;
    }
    if (!strcmp(cmd, "train")) {
        if (pretok < 0 || !vocab_size || !vocab_json || !merges_txt) die("train needs --pretok, --vocab-size, --vocab-json, --merges-txt");
        char *text;
        size_t len;
        if (read_file(input, &text, &len, &e)) die("%s", e.msg);
        double t0 = now_sec();
        bpe *t = bpe_train_progress(text, len, vocab_size, pretok, specials, nspecials, progress, NULL, &e);
        if (!t) die("%s", e.msg);
        fprintf(stderr, "train: %d ids on %zu bytes in %.2f s\n", vocab_size, len, now_sec() - t0);
        if (bpe_save_gpt2(t, vocab_json, merges_txt, &e)) die("%s", e.msg);
        if (save && bpe_save(t, save, &e)) die("%s", e.msg);
        bpe_free(t);
        free(text);
        return 0;
    }

    bpe *t = NULL;
    if (load) t = bpe_load(load, &e);
    else if (vocab_json && merges_txt && pretok > 0) t = bpe_load_gpt2(vocab_json, merges_txt, pretok, &e);
    else die("%s needs --load FILE or --vocab-json, --merges-txt and --pretok", cmd);
    if (!t) die("%s", e.msg);
    for (int k = 0; k < nspecials; k++)
        if (bpe_add_special(t, specials[k], &e) < 0) die("--special: %s", e.msg);
    records r;
    read_records(input, &r);
    if (!strcmp(cmd, "encode")) {
        bpe_encoder *enc = bpe_encoder_new(t);
        uint32_t *ids = NULL;
        size_t cap = 0;
        for (size_t k = 0; k < r.n; k++) {
            size_t n = 0;
            bpe_encoder_append(enc, r.text[k], r.len[k], &ids, &n, &cap);
            for (size_t i = 0; i < n; i++) printf(i ? " %u" : "%u", ids[i]);
            putchar('\n');
        }
        free(ids);
        bpe_encoder_free(enc);
    } else if (!strcmp(cmd, "decode")) {
        for (size_t k = 0; k < r.n; k++) {
            size_t n = 0;
            uint32_t *ids = xmalloc((r.len[k] / 2 + 1) * sizeof *ids);
            char *p = r.text[k], *end = p + r.len[k];
            while (p < end) {
                char *q;
                unsigned long v = strtoul(p, &q, 10);
                if (q == p) die("record %zu: expected an id at '%.10s'", k, p);
                ids[n++] = (uint32_t)v;
                p = q + (q < end && *q == ' ');
            }
            char *out;
            size_t olen;
            if (bpe_decode(t, ids, n, &out, &olen, &e)) die("record %zu: %s", k, e.msg);
            printf("%zu\n", olen);
            fwrite(out, 1, olen, stdout);
            putchar('\n');
            free(out);
            free(ids);
        }
    } else if (!strcmp(cmd, "bench")) {
        double best = 1e30;
        uint64_t digest = 0;
        size_t nids = 0;
        uint32_t *ids = NULL;
        size_t cap = 0;
        for (int rep = 0; rep < repeat; rep++) {
            bpe_encoder *enc = bpe_encoder_new(t);  // a cold cache each repetition
            XXH3_state_t *h = XXH3_createState();
            XXH3_64bits_reset(h);
            nids = 0;
            double t0 = now_sec(), spent = 0;
            for (size_t k = 0; k < r.n; k++) {
                size_t n = 0;
                bpe_encoder_append(enc, r.text[k], r.len[k], &ids, &n, &cap);
                nids += n;
                double t1 = now_sec();
                XXH3_64bits_update(h, ids, n * sizeof *ids);  // hashing is not counted
                spent += now_sec() - t1;
            }
            double secs = now_sec() - t0 - spent;
            if (secs < best) best = secs;
            digest = XXH3_64bits_digest(h);
            XXH3_freeState(h);
            bpe_encoder_free(enc);
        }
        printf("{\"seconds\": %.6f, \"bytes\": %zu, \"texts\": %zu, \"ids\": %zu, \"mb_per_s\": %.3f, \"ids_xxh3\": \"%016llx\"}\n",
               best, r.total, r.n, nids, r.total / best / 1e6, (unsigned long long)digest);
        free(ids);
    } else {
        die("unknown command '%s' (see --help)", cmd);
    }
    free_records(&r);
    bpe_free(t);
    return 0;
}
