// cmd_tokenize.c — `shards tokenize` (text files -> token shards) and
// `shards train-tokenizer` (corpus files -> tokenizer file).
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shards/cmd.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"

#define PIECE_BYTES_DEFAULT (1 << 20)  // text encoded per task; cut only where pre-tokens cannot span

static const char *const pretoks[] = {"gpt2", "digits", NULL};
static const char *const train_pretoks[] = {"digits", "gpt2", NULL};

typedef struct tokenize_opts {
    char *tokenizer, *vocab, *merges, *out, *producer, *eot;
    int pretok, no_eot, threads, level;
    int64_t record_tokens, shard_records, frame_bytes, piece_bytes;
} tokenize_opts;

#define F(x) offsetof(tokenize_opts, x)
static const cli_opt tokenize_list[] = {
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE", "berry tokenizer file (shards train-tokenizer)"},
    {CLI_STR, "gpt2-vocab", F(vocab), NULL, 0, 0, NULL, 0, "F", "GPT-2 style vocab.json (with --gpt2-merges, instead of --tokenizer)"},
    {CLI_STR, "gpt2-merges", F(merges), NULL, 0, 0, NULL, 0, "F", "GPT-2 style merges.txt"},
    {CLI_CHOICE, "pretok", F(pretok), "gpt2", 0, 0, pretoks, 0, "MODE", "pre-tokenisation for GPT-2 files: gpt2 or digits"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "output directory (created if missing; required)"},
    {CLI_STR, "producer", F(producer), "tokens", 0, 0, NULL, 0, "NAME", "producer name in DIR; must have no shards there yet"},
    {CLI_STR, "eot", F(eot), BERRY_EOT, 0, 0, NULL, 0, "TOKEN", "the document separator (must be a special token)"},
    {CLI_FLAG, "no-eot", F(no_eot), NULL, 0, 0, NULL, 0, NULL, "do not separate documents"},
    {CLI_COUNT, "record-tokens", F(record_tokens), "65536", 1, SHARD_RECORD_MAX / 4 - 2, NULL, 0, "N", "tokens per record"},
    {CLI_COUNT, "shard-records", F(shard_records), "1024", 1, 9e18, NULL, 0, "N", "records per shard"},
    {CLI_INT, "threads", F(threads), NULL, 1, 1024, NULL, 0, "N", "encoding threads (default: all cores)"},
    {CLI_BYTES, "piece-bytes", F(piece_bytes), "1M", 1, 9e18, NULL, 0, "BYTES", "text per parallel piece (the ids do not depend on it)"},
    {CLI_BYTES, "frame-bytes", F(frame_bytes), "1M", 1, SHARD_RECORD_MAX, NULL, 0, "BYTES", "uncompressed bytes per zstd frame"},
    {CLI_INT, "level", F(level), "3", -7, 19, NULL, 0, "N", "zstd level (1..19, or -7..-1 for the fast levels)"},
};
#undef F
static const cli_table tokenize_table = CLI_TABLE(tokenize_list);
static const cli_cmd tokenize_cmd = {
    "shards tokenize",
    "usage: shards tokenize (--tokenizer FILE | --gpt2-vocab F --gpt2-merges F) --out DIR [options] FILE...\n"
    "\n"
    "Encodes text files into token shards in DIR, in the order given, and closes DIR. Each file\n"
    "is one document; the end-of-text token goes before each document (llm.c's convention), so\n"
    "documents are separated in the stream. Special tokens written in the text (e.g.\n"
    "<|endoftext|>, <|step|>) become their ids. The stream is cut into records of\n"
    "--record-tokens tokens (the last may be shorter); a shard is published every\n"
    "--shard-records records. Large files are encoded in parallel in pieces of --piece-bytes, cut only\n"
    "at a newline between two printable ASCII characters, where no pre-token or special token\n"
    "can span: the ids equal those of encoding the whole file at once, for any --threads.\n"
    "\"-\" reads standard input.\n",
    &tokenize_table, 1, "example: shards tokenize --tokenizer data/tok.bpe --out data/tokens corpus/*.txt\n"};

typedef struct train_opts {
    char *out, *vocab, *merges;
    int vocab_size, pretok;
    cli_list special;
} train_opts;

#define F(x) offsetof(train_opts, x)
static const cli_opt train_list[] = {
    {CLI_INT, "vocab-size", F(vocab_size), NULL, 257, 1 << 24, NULL, 0, "N",
     "total ids, bytes + merges + specials, e.g. 8192 (required)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "FILE", "tokenizer file to write (required)"},
    {CLI_CHOICE, "pretok", F(pretok), "digits", 0, 0, train_pretoks, 0, "MODE",
     "digits (every digit its own token) or gpt2"},
    {CLI_LIST, "special", F(special), NULL, 0, 0, NULL, 0, "S",
     "a special token; default: " BERRY_EOT " " BERRY_STEP " " BERRY_ANSWER},
    {CLI_STR, "gpt2-vocab", F(vocab), NULL, 0, 0, NULL, 0, "F", "also write GPT-2 style vocab.json ..."},
    {CLI_STR, "gpt2-merges", F(merges), NULL, 0, 0, NULL, 0, "F", "... and merges.txt (HF tokenizers reads them)"},
};
#undef F
static const cli_table train_table = CLI_TABLE(train_list);
static const cli_cmd train_cmd = {
    "shards train-tokenizer",
    "usage: shards train-tokenizer --vocab-size N --out FILE [options] FILE...\n"
    "\n"
    "Trains a byte-level BPE vocabulary on the corpus files (joined, with the end-of-text token\n"
    "between files when it is one of the specials, so no merge spans two files) and saves it\n"
    "as a berry tokenizer file (atomically). The vocabulary holds the 256 byte tokens, the\n"
    "merges, then the special tokens. Deterministic: same files and flags, same file.\n",
    &train_table, 1, "example: shards train-tokenizer --vocab-size 4096 --out data/tok.bpe corpus/*.txt\n"};

// ---- input text ---------------------------------------------------------------------------------

typedef struct text_input {
    const char *data;
    size_t len;
    void *map;     // munmap on release (regular files)
    char *owned;   // free on release (standard input)
} text_input;

static int input_open(const char *path, text_input *t, berr *e) {
    memset(t, 0, sizeof *t);
    if (strcmp(path, "-") == 0) {
        if (cmd_read_input(path, &t->owned, &t->len, e)) return -1;
        t->data = t->owned;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return berr_set(e, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return berr_set(e, "%s: not a regular file", path);
    }
    t->len = (size_t)st.st_size;
    if (t->len) {
        t->map = mmap(NULL, t->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (t->map == MAP_FAILED) {
            t->map = NULL;
            close(fd);
            return berr_set(e, "cannot map %s: %s", path, strerror(errno));
        }
        t->data = t->map;
    } else {
        t->data = "";
    }
    close(fd);
    return 0;
}

static void input_close(text_input *t) {
    if (t->map) munmap(t->map, t->len);
    free(t->owned);
    memset(t, 0, sizeof *t);
}

static int printable_ascii(char c) { return c >= 0x21 && c <= 0x7e; }

// Whether the text may be cut before byte `at` (0 < at < len) without changing the ids: at
// "X\nY" with X and Y printable ASCII, so the pre-tokens there are "...X", "\n", "Y..." with
// or without the cut (a longer whitespace run before Y would be split differently at the
// end of a piece: "\s+(?!\S)" takes all of it), and not inside an occurrence of a special.
static int cut_ok(const char *s, size_t len, size_t at, char *const *specials, int nspecials) {
    if (at < 2 || s[at - 1] != '\n' || !printable_ascii(s[at]) || !printable_ascii(s[at - 2])) return 0;
    for (int k = 0; k < nspecials; k++) {
        size_t L = strlen(specials[k]);
        if (L < 2) continue;
        size_t from = at >= L - 1 ? at - (L - 1) : 0;
        size_t to = at + L - 1 <= len ? at + L - 1 : len;  // window that an occurrence spanning `at` lies in
        for (const char *p = s + from; (p = memmem(p, (size_t)(s + to - p), specials[k], L)); p++)
            if ((size_t)(p - s) < at && (size_t)(p - s) + L > at) return 0;
    }
    return 1;
}

// Cuts [0, len) into pieces of about piece_bytes at safe points; returns the piece ends.
static size_t plan_pieces(const char *s, size_t len, size_t piece_bytes, char *const *specials, int nspecials,
                          size_t **ends) {
    size_t n = 0, cap = 16;
    *ends = xmalloc(cap * sizeof **ends);
    size_t start = 0;
    while (start < len) {
        size_t at = start + piece_bytes;
        while (at < len && !cut_ok(s, len, at, specials, nspecials)) at++;
        if (at > len) at = len;
        if (n == cap) *ends = xrealloc(*ends, (cap *= 2) * sizeof **ends);
        (*ends)[n++] = at;
        start = at;
    }
    return n;
}

// ---- tokenize -----------------------------------------------------------------------------------

typedef struct sink {
    shard_dir_writer *w;
    uint32_t *pending;  // ids not yet in a record
    size_t n, cap, record_tokens;
    uint64_t tokens;
    bbuf rec;
} sink;

static int sink_flush(sink *k, int all, berr *e) {
    size_t at = 0;
    while (k->n - at >= k->record_tokens || (all && k->n > at)) {
        size_t take = k->n - at < k->record_tokens ? k->n - at : k->record_tokens;
        k->rec.n = 0;
        tokens_encode(&k->rec, k->pending + at, (uint32_t)take);
        if (shard_dir_append(k->w, k->rec.p, k->rec.n, e)) return -1;
        at += take;
    }
    memmove(k->pending, k->pending + at, (k->n - at) * sizeof *k->pending);
    k->n -= at;
    return 0;
}

static int sink_put(sink *k, const uint32_t *ids, size_t n, berr *e) {
    if (k->n + n > k->cap) {
        while (k->n + n > k->cap) k->cap = k->cap ? 2 * k->cap : 1 << 16;
        k->pending = xrealloc(k->pending, k->cap * sizeof *k->pending);
    }
    memcpy(k->pending + k->n, ids, n * sizeof *ids);
    k->n += n;
    k->tokens += n;
    return sink_flush(k, 0, e);
}

static bpe *load_tokenizer(const tokenize_opts *o, berr *e) {
    bpe *t;
    if (o->tokenizer) {
        if (!(t = bpe_load(o->tokenizer, e))) berr_wrap(e, "--tokenizer");
        return t;
    }
    if (!(t = bpe_load_gpt2(o->vocab, o->merges, bpe_pretok_from_name(pretoks[o->pretok]), e)))
        berr_wrap(e, "--gpt2-vocab %s --gpt2-merges %s", o->vocab, o->merges);
    return t;
}

int cmd_tokenize(int argc, char **argv, int first) {
    tokenize_opts o;
    cli_args pos;
    unsigned char given[sizeof tokenize_list / sizeof tokenize_list[0]] = {0};
    int rc = cli_command(&tokenize_cmd, &o, argc, argv, first, given, &pos);
    if (rc != CLI_GO) return rc;
    if (!o.threads) o.threads = omp_get_max_threads();
    const char *out = o.out, *producer = o.producer, *eot = o.eot;
    int no_eot = o.no_eot, threads = o.threads, level = o.level;
    int64_t record_tokens = o.record_tokens, shard_records = o.shard_records, frame_bytes = o.frame_bytes;
    int64_t piece_bytes = o.piece_bytes;
    berr e;
    const char *problem = !!o.tokenizer == !!(o.vocab || o.merges) ? "give either --tokenizer FILE or --gpt2-vocab and --gpt2-merges"
                          : !o.tokenizer && (!o.vocab || !o.merges) ? "--gpt2-vocab and --gpt2-merges go together"
                          : !o.out ? "--out DIR is required"
                          : pos.n == 0 ? "no text file given"
                          : level == 0 ? "--level 0 is not a zstd level; use 1..19 or -7..-1"
                          : !shard_producer_name_ok(producer) ? "--producer must be 1..48 characters of [A-Za-z0-9._-]"
                          : cli_given(&tokenize_table, given, "pretok") && o.tokenizer
                              ? "--pretok is for GPT-2 files (a berry tokenizer file has its own)"
                              : NULL;
    if (problem) {
        cli_free(&tokenize_table, &o);
        cli_args_free(&pos);
        return cli_usage_error(&tokenize_cmd, "%s", problem);
    }
    cli_echo_line(tokenize_cmd.name, &tokenize_table, &o, given, NULL);
    int nfiles = pos.n;
    char **files = pos.v;
    bpe *t = NULL;
    int nspecials = 0;
    char **specials = NULL;
    // The output and every input are checked before anything is written.
    if (cli_check_output_dir("--out", out, &e)) goto fail_early;
    t = load_tokenizer(&o, &e);
    if (!t) goto fail_early;
    int eot_id = no_eot ? -1 : bpe_special(t, eot);
    if (!no_eot && eot_id < 0) {
        berr_set(&e, "the tokenizer has no special token %s (pass --eot TOKEN or --no-eot)", eot);
        goto fail_early;
    }
    nspecials = bpe_num_specials(t);
    specials = xcalloc((size_t)nspecials + 1, sizeof(char *));
    for (int i = 0; i < nspecials; i++) {
        size_t L;
        const char *b = bpe_token_bytes(t, (uint32_t)bpe_special_at(t, i), &L);
        specials[i] = xmalloc(L + 1);
        memcpy(specials[i], b, L);
        specials[i][L] = 0;
    }
    // Every input must open before anything is written.
    uint64_t total_bytes = 0;
    for (int a = 0; a < nfiles; a++) {
        if (!strcmp(files[a], "-")) {  // read once, when its turn comes
            if (nfiles > 1) {
                berr_set(&e, "standard input (\"-\") must be the only input");
                goto fail_early;
            }
            continue;
        }
        text_input in;
        if (input_open(files[a], &in, &e)) goto fail_early;
        total_bytes += in.len;
        input_close(&in);
    }
    shard_dir_opts dopts = {.max_records = (uint64_t)shard_records,
                        .shard = {.frame_bytes = (uint32_t)frame_bytes, .zstd_level = level}};
    sink k = {.record_tokens = (size_t)record_tokens};
    k.w = shard_dir_writer_open(out, producer, SHARD_TOKENS, TOKENS_SCHEMA, &dopts, &e);
    if (!k.w) goto fail_early;
    if (shard_dir_published(k.w) || shard_dir_writer_is_closed(k.w)) {
        berr_set(&e, "%s already holds shards of producer %s: remove them or choose another --producer", out, producer);
        shard_dir_abort(k.w);
        goto fail_early;
    }

    bpe_encoder **enc = xcalloc((size_t)threads, sizeof *enc);
    for (int i = 0; i < threads; i++) enc[i] = bpe_encoder_new(t);
    uint64_t done_bytes = 0;
    double t0 = now_sec(), last = t0;
    rc = 0;
    for (int a = 0; a < nfiles && !rc; a++) {
        text_input in;
        if (input_open(files[a], &in, &e)) {
            rc = -1;
            break;
        }
        if (eot_id >= 0) {
            uint32_t id = (uint32_t)eot_id;
            rc = sink_put(&k, &id, 1, &e);
        }
        size_t *ends;
        size_t np = plan_pieces(in.data, in.len, (size_t)piece_bytes, specials, nspecials, &ends);
        // Encode a batch of pieces in parallel, then hand their ids over in order.
        size_t batch = (size_t)threads * 2;
        uint32_t **ids = xcalloc(batch, sizeof *ids);
        size_t *nids = xcalloc(batch, sizeof *nids), *caps = xcalloc(batch, sizeof *caps);
        for (size_t p0 = 0; p0 < np && !rc; p0 += batch) {
            size_t nb = np - p0 < batch ? np - p0 : batch;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
            for (size_t j = 0; j < nb; j++) {
                size_t from = p0 + j == 0 ? 0 : ends[p0 + j - 1];
                nids[j] = 0;
                bpe_encoder_append(enc[omp_get_thread_num()], in.data + from, ends[p0 + j] - from, &ids[j], &nids[j],
                                   &caps[j]);
            }
            for (size_t j = 0; j < nb && !rc; j++) rc = sink_put(&k, ids[j], nids[j], &e);
            done_bytes += ends[p0 + nb - 1] - (p0 == 0 ? 0 : ends[p0 - 1]);
            double now = now_sec();
            if (now - last > 2 && !cli_quiet) {
                fprintf(stderr, "shards tokenize: %.1f / %.1f MB (%.1f%%), %llu tokens, %.2f MB/s\n", done_bytes / 1e6,
                        total_bytes / 1e6, total_bytes ? 100.0 * (double)done_bytes / (double)total_bytes : 100.0,
                        (unsigned long long)k.tokens, done_bytes / 1e6 / (now - t0));
                last = now;
            }
        }
        for (size_t j = 0; j < batch; j++) free(ids[j]);
        free(ids);
        free(nids);
        free(caps);
        free(ends);
        input_close(&in);
    }
    if (!rc) rc = sink_flush(&k, 1, &e);
    uint64_t shards = shard_dir_published(k.w) + (shard_dir_pending(k.w) ? 1 : 0);
    if (rc) shard_dir_abort(k.w);  // published shards stay; the directory is not closed
    else rc = shard_dir_close(k.w, &e);
    for (int i = 0; i < threads; i++) bpe_encoder_free(enc[i]);
    free(enc);
    free(k.pending);
    bbuf_free(&k.rec);
    for (int i = 0; i < nspecials; i++) free(specials[i]);
    free(specials);
    bpe_free(t);
    cli_free(&tokenize_table, &o);
    cli_args_free(&pos);
    if (rc) return cli_fail(tokenize_cmd.name, &e);
    double secs = now_sec() - t0;
    fprintf(stderr, "shards tokenize: wrote %llu tokens from %.1f MB in %llu shards to %s (closed) in %.1f s (%.2f MB/s)\n",
            (unsigned long long)k.tokens, done_bytes / 1e6, (unsigned long long)shards, out, secs,
            secs > 0 ? done_bytes / 1e6 / secs : 0.0);
    return 0;
fail_early:
    for (int i = 0; i < nspecials; i++) free(specials[i]);
    free(specials);
    bpe_free(t);
    cli_free(&tokenize_table, &o);
    cli_args_free(&pos);
    return cli_fail(tokenize_cmd.name, &e);
}

// ---- train-tokenizer -----------------------------------------------------------------------------

typedef struct train_progress {
    double last;
} train_progress;

static void on_progress(void *ctx, const char *phase, int64_t done, int64_t total) {
    train_progress *p = ctx;
    if (cli_quiet) return;
    double now = now_sec();
    if (now - p->last < 2 && done != total) return;
    p->last = now;
    fprintf(stderr, "shards train-tokenizer: %s %lld / %lld\n", phase, (long long)done, (long long)total);
}

int cmd_train_tokenizer(int argc, char **argv, int first) {
    train_opts o;
    cli_args pos;
    unsigned char given[sizeof train_list / sizeof train_list[0]] = {0};
    int rc = cli_command(&train_cmd, &o, argc, argv, first, given, &pos);
    if (rc != CLI_GO) return rc;
    const char *out = o.out, *vocab = o.vocab, *merges = o.merges;
    int vocab_size = o.vocab_size, mode = bpe_pretok_from_name(train_pretoks[o.pretok]);
    int nspecials = o.special.n;
    const char **specials = xcalloc((size_t)nspecials + 3, sizeof(char *));
    for (int i = 0; i < nspecials; i++) specials[i] = o.special.v[i];
    if (nspecials == 0) {
        specials[nspecials++] = BERRY_EOT;
        specials[nspecials++] = BERRY_STEP;
        specials[nspecials++] = BERRY_ANSWER;
    }
    char small[160] = "";
    if (vocab_size && vocab_size < 256 + nspecials)
        snprintf(small, sizeof small, "--vocab-size %d leaves no room: the 256 byte tokens and %d specials take %d ids",
                 vocab_size, nspecials, 256 + nspecials);
    const char *problem = !vocab_size ? "--vocab-size N is required"
                          : small[0] ? small
                          : !out ? "--out FILE is required"
                          : !!vocab != !!merges ? "--gpt2-vocab and --gpt2-merges go together"
                          : pos.n == 0 ? "no corpus file given" : NULL;
    berr e;
    // The outputs are checked before the corpus is read or anything trained.
    if (!problem && (cli_check_output_file("--out", out, &e) || (vocab && cli_check_output_file("--gpt2-vocab", vocab, &e)) ||
                     (merges && cli_check_output_file("--gpt2-merges", merges, &e))))
        rc = cli_fail(train_cmd.name, &e);
    else if (problem)
        rc = cli_usage_error(&train_cmd, "%s", problem);
    if (rc != CLI_GO) {
        free(specials);
        cli_free(&train_table, &o);
        cli_args_free(&pos);
        return rc;
    }
    if (!cli_quiet) {
        fprintf(stderr, "shards train-tokenizer: vocab_size=%d pretok=%s out=%s specials=", vocab_size, train_pretoks[o.pretok],
                out);
        for (int i = 0; i < nspecials; i++) fprintf(stderr, "%s%s", i ? "," : "", specials[i]);
        fprintf(stderr, " files=%d\n", pos.n);
    }
    // The corpus: files joined by the end-of-text special (cut out by the trainer) or a newline.
    const char *sep = "\n";
    for (int i = 0; i < nspecials; i++)
        if (!strcmp(specials[i], BERRY_EOT)) sep = BERRY_EOT;
    bbuf corpus = {0};
    rc = 0;
    for (int a = 0; a < pos.n && !rc; a++) {
        text_input in;
        if (input_open(pos.v[a], &in, &e)) {
            rc = -1;
            break;
        }
        if (a > 0) bbuf_put(&corpus, sep, strlen(sep));
        bbuf_put(&corpus, in.data, in.len);
        input_close(&in);
    }
    bpe *t = NULL;
    double t0 = now_sec();
    if (!rc) {
        if (!cli_quiet) fprintf(stderr, "shards train-tokenizer: corpus of %.1f MB\n", corpus.n / 1e6);
        train_progress pr = {t0};
        t = bpe_train_progress(corpus.n ? (const char *)corpus.p : "", corpus.n, vocab_size, mode, specials, nspecials,
                               on_progress, &pr, &e);
        if (!t) {  // the trainer's "vocab_size" is this command's --vocab-size
            rc = -1;
            char m[sizeof e.msg], *at;
            snprintf(m, sizeof m, "%s", e.msg);
            e.msg[0] = 0;
            for (char *p = m; p; p = at ? at + 10 : NULL) {
                at = strstr(p, "vocab_size");
                snprintf(e.msg + strlen(e.msg), sizeof e.msg - strlen(e.msg), "%.*s%s", at ? (int)(at - p) : (int)strlen(p), p,
                         at ? "--vocab-size" : "");
            }
        }
    }
    if (!rc) rc = bpe_save(t, out, &e);
    if (!rc && vocab) rc = bpe_save_gpt2(t, vocab, merges, &e);
    if (!rc)
        fprintf(stderr, "shards train-tokenizer: wrote %s (%d ids, %d specials)%s%s%s in %.1f s\n", out,
                bpe_vocab_size(t), bpe_num_specials(t), vocab ? " and " : "", vocab ? vocab : "", vocab ? " + merges" : "",
                now_sec() - t0);
    bpe_free(t);
    bbuf_free(&corpus);
    free(specials);
    cli_free(&train_table, &o);
    cli_args_free(&pos);
    return rc ? cli_fail(train_cmd.name, &e) : 0;
}
