// test_loader.c — the data path: per-rank partitions are disjoint and cover every epoch;
// the reader thread gives exactly the batches made synchronously; a token outside the
// vocabulary is an error naming where; SFT rows hold whole examples with every prompt and
// padding target masked; SFT examples from problems (too long: error or counted); and on the
// model, masked targets carry exactly zero weight.
#include <string.h>

#include "kernels/gpt2.h"
#include "pretrain/seq_feed.h"
#include "pretrain/sft.h"
#include "tests/test.h"

enum { T = 8 };

static pt_tokens *counting_stream(uint64_t n, uint32_t mod) {
    uint32_t *ids = xmalloc(n * sizeof(uint32_t));
    for (uint64_t i = 0; i < n; i++) ids[i] = (uint32_t)(i % mod);
    pt_tokens *t = pt_tokens_from_array(ids, n, "counting");
    free(ids);
    return t;
}

// Items of a sequence batch: row r's first input token / T (the stream holds i at position i).
static void test_partition(void) {
    const uint64_t count = 48;  // sequences per epoch
    const int B = 2, accum = 3;
    for (int world = 1; world <= 4; world++) {
        uint64_t per_step = (uint64_t)B * accum * world;
        if (count % per_step) continue;  // whole epochs in whole steps, so an epoch is exactly covered
        int *hits = xcalloc(count, sizeof(int));
        int disjoint = 1, ok = 1;
        tr_loader *l[4];
        for (int r = 0; r < world; r++)
            l[r] = tr_loader_start(pt_seq_feed(counting_stream(count * T + 1, 1u << 30), 0, count, T, 1 << 30, 7, r, world,
                                               B, accum),
                                   accum, B, T, 0, 1);
        for (uint64_t step = 0; step < count / per_step; step++) {
            int *step_hits = xcalloc(count, sizeof(int));
            for (int r = 0; r < world; r++) {
                const tr_batch *b;
                berr e;
                ok &= tr_loader_next(l[r], &b, NULL, &e) == 0;
                ok &= b->cursor == step * per_step && b->cursor_after == (step + 1) * per_step;
                ok &= b->valid == (int64_t)per_step * T && b->valid_local == (int64_t)B * accum * T;
                for (int row = 0; row < B * accum; row++) {
                    uint64_t k = (uint64_t)b->inputs[row * T] / T;
                    for (int i = 0; i < T; i++)  // the row is the T+1 tokens at k·T, shifted for targets
                        ok &= b->inputs[row * T + i] == (int32_t)(k * T + i) && b->targets[row * T + i] == (int32_t)(k * T + i + 1);
                    if (k < count) {
                        disjoint &= step_hits[k]++ == 0;
                        hits[k]++;
                    } else ok = 0;
                }
            }
            free(step_hits);
        }
        int covered = 1;
        for (uint64_t k = 0; k < count; k++) covered &= hits[k] == 1;
        CHECK(ok && disjoint && covered, "world %d: partitions disjoint %d, epoch covered %d, rows ok %d", world, disjoint,
              covered, ok);
        for (int r = 0; r < world; r++) tr_loader_stop(l[r]);
        free(hits);
    }
}

// The threaded loader yields the same batches as the synchronous one, across epochs, and
// starting from any cursor (resume) continues the same stream.
static void test_threaded_and_resume(void) {
    const uint64_t count = 37;
    const int B = 3, accum = 2;
    tr_loader *a = tr_loader_start(pt_seq_feed(counting_stream(count * T + 5, 1u << 30), 0, count, T, 1 << 30, 3, 0, 1, B, accum),
                                   accum, B, T, 0, 1);
    tr_loader *s = tr_loader_start(pt_seq_feed(counting_stream(count * T + 5, 1u << 30), 0, count, T, 1 << 30, 3, 0, 1, B, accum),
                                   accum, B, T, 0, 0);
    int same = 1;
    uint64_t cursor_at_10 = 0;
    int32_t saved[B * accum * T];
    for (int step = 0; step < 20; step++) {
        const tr_batch *x, *y;
        berr e;
        same &= tr_loader_next(a, &x, NULL, &e) == 0 && tr_loader_next(s, &y, NULL, &e) == 0;
        same &= memcmp(x->inputs, y->inputs, sizeof saved) == 0 && memcmp(x->targets, y->targets, sizeof saved) == 0;
        if (step == 10) cursor_at_10 = x->cursor;
        if (step == 10) memcpy(saved, x->inputs, sizeof saved);
    }
    CHECK(same, "threaded and synchronous loaders differ");
    tr_loader *r = tr_loader_start(pt_seq_feed(counting_stream(count * T + 5, 1u << 30), 0, count, T, 1 << 30, 3, 0, 1, B, accum),
                                   accum, B, T, cursor_at_10, 1);
    const tr_batch *x;
    berr e;
    CHECK(tr_loader_next(r, &x, NULL, &e) == 0 && memcmp(x->inputs, saved, sizeof saved) == 0,
          "a loader started at a saved cursor does not continue the stream");
    tr_loader_stop(a);
    tr_loader_stop(s);
    tr_loader_stop(r);

    // a token outside the vocabulary: an error naming the data and the position
    tr_loader *v = tr_loader_start(pt_seq_feed(counting_stream(100, 50), 0, 12, T, 40, 1, 0, 1, 2, 1), 1, 2, T, 0, 1);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++) rc = tr_loader_next(v, &x, NULL, &e);
    CHECK(rc != 0 && strstr(e.msg, "counting: token id 4") && strstr(e.msg, "outside the model's vocabulary of 40"),
          "bad token: %s", e.msg);
    CHECK(tr_loader_next(v, &x, NULL, &e) != 0, "the loader stays failed");
    tr_loader_stop(v);
}

// ---- SFT ---------------------------------------------------------------------------------------------

enum { EOT = 99 };

static void add_example(pt_examples *x, uint64_t id, int np, int ns) {
    if (x->n == x->cap) x->ex = xrealloc(x->ex, (x->cap = x->cap ? 2 * x->cap : 16) * sizeof *x->ex);
    pt_example *ex = &x->ex[x->n++];
    ex->problem_id = id;
    ex->n = (uint32_t)(np + ns + 1);
    ex->n_prompt = (uint32_t)np;
    ex->ids = xmalloc(ex->n * sizeof(uint32_t));
    for (int i = 0; i < np; i++) ex->ids[i] = (uint32_t)(10 + id);     // prompt tokens: 10 + id
    for (int i = 0; i < ns; i++) ex->ids[np + i] = (uint32_t)(60 + id);  // solution tokens: 60 + id
    ex->ids[np + ns] = EOT;
}

static void test_sft_rows(void) {
    pt_examples x = {0};
    int np[] = {3, 1, 5, 2, 4, 1}, ns[] = {1, 1, 1, 2, 1, 1};  // 5, 3, 7, 5, 6, 3 tokens
    for (int i = 0; i < 6; i++) add_example(&x, (uint64_t)i, np[i], ns[i]);
    tr_order ord;
    tr_order_init(&ord, x.n, 0, 0);
    uint64_t pos = 0;
    uint32_t tok[T + 1];
    uint8_t keep[T + 1];
    int32_t in[T], tg[T];
    int rows = 0, all_ok = 1, total_kept = 0;
    while (pos < x.n) {
        uint64_t before = pos;
        int kept = pt_sft_pack_row(&x, &ord, &pos, x.n, T, EOT, tok, keep);
        pt_sft_row_io(tok, keep, T, in, tg);
        all_ok &= pos > before;
        // Walk the row: whole examples, then padding; targets only on solution tokens and the EOT after them.
        int at = 0, count = 0;
        for (uint64_t k = before; k < pos; k++) {
            const pt_example *ex = &x.ex[k];
            for (uint32_t j = 0; j < ex->n; j++, at++) {
                all_ok &= tok[at] == ex->ids[j];
                if (at == 0) continue;  // the first token of a row is never a target
                int want = j >= ex->n_prompt ? (int32_t)ex->ids[j] : -1;
                all_ok &= tg[at - 1] == want;
                count += want >= 0;
            }
        }
        for (; at <= T; at++) {
            all_ok &= tok[at] == EOT;
            if (at > 0) all_ok &= tg[at - 1] == -1;
        }
        all_ok &= kept == count;
        for (int i = 0; i < T; i++) all_ok &= in[i] == (int32_t)tok[i];
        total_kept += kept;
        rows++;
    }
    int sol = 0;
    for (int i = 0; i < 6; i++) sol += ns[i] + 1;
    CHECK(all_ok && total_kept == sol, "SFT rows: whole examples, prompts and padding masked (kept %d of %d)", total_kept, sol);
    CHECK(rows == 4, "greedy packing into %d rows (expected 4: 5+3, 7, 5, 6+3)", rows);
    tr_order_free(&ord);

    // The feed: every rank packs the same global step; the step's count is the sum of the ranks'.
    for (int world = 1; world <= 3; world++) {
        int64_t valid = 0, sum_local = 0;
        uint64_t after = 0;
        for (int r = 0; r < world; r++) {
            tr_loader *l = tr_loader_start(pt_sft_feed(&x, T, EOT, 5, r, world, 2, 1), 1, 2, T, 3, 0);
            const tr_batch *b;
            berr e;
            CHECK(tr_loader_next(l, &b, NULL, &e) == 0, "%s", e.msg);
            if (r == 0) valid = b->valid, after = b->cursor_after;
            CHECK(b->valid == valid && b->cursor_after == after, "ranks agree on the step");
            sum_local += b->valid_local;
            int64_t counted = 0;
            for (int i = 0; i < 2 * T; i++) counted += b->targets[i] >= 0;
            CHECK(counted == b->valid_local, "valid_local %lld counts its targets %lld", (long long)b->valid_local, (long long)counted);
            tr_loader_stop(l);
        }
        CHECK(sum_local == valid && after > 3, "world %d: step total %lld = sum of ranks %lld", world, (long long)valid,
              (long long)sum_local);
    }
    pt_examples_free(&x);
}

static void test_sft_examples(void) {
    const char *corpus = "Compute 1 + 2.\n<|step|>1 + 2 = 3\n<|answer|>3\n<|endoftext|>";
    const char *specials[] = {"<|endoftext|>", "<|step|>", "<|answer|>"};
    berr e;
    bpe *tok = bpe_train(corpus, strlen(corpus), 264, BPE_PRETOK_DIGITS, specials, 3, &e);
    CHECK(tok != NULL, "bpe_train: %s", e.msg);
    if (!tok) return;
    int eot = bpe_special(tok, "<|endoftext|>");
    problem_rec p = {.id = 0xabc, .task = TASK_ARITH, .prompt = "Compute 1 + 2.\n", .answer = "3",
                     .tests = "", .solution = "<|step|>1 + 2 = 3\n<|answer|>3\n"};
    pt_examples x = {0};
    CHECK(pt_examples_add(&x, &p, tok, eot, 64, 0, &e) == 0 && x.n == 1, "%s", e.msg);
    uint32_t *pi;
    size_t np = bpe_encode(tok, p.prompt, strlen(p.prompt), &pi);
    CHECK(x.ex[0].n_prompt == np && x.ex[0].ids[x.ex[0].n - 1] == (uint32_t)eot &&
              memcmp(x.ex[0].ids, pi, np * sizeof(uint32_t)) == 0, "prompt ids, then solution, then end-of-text");
    free(pi);
    int n = (int)x.ex[0].n;
    CHECK(pt_examples_add(&x, &p, tok, eot, (uint32_t)n - 1, 0, &e) != 0 && strstr(e.msg, "problem 0000000000000abc") &&
              strstr(e.msg, "longer than a sequence"), "too long: %s", e.msg);
    CHECK(pt_examples_add(&x, &p, tok, eot, (uint32_t)n - 1, 1, &e) == 0 && x.dropped == 1 && x.n == 1, "dropped and counted");
    p.solution = "";
    CHECK(pt_examples_add(&x, &p, tok, eot, 64, 0, &e) != 0 && strstr(e.msg, "no worked solution"), "%s", e.msg);
    pt_examples_free(&x);
    bpe_free(tok);
}

// On the model: the loss of masked targets is exactly the sum of the unmasked run's per-token
// losses over the kept positions, and masked + complementary-masked gradients add up to the
// unmasked gradient — masked positions carry zero weight.
static void test_masking_on_model(void) {
    berr e;
    kb_ctx *ctx = kb_open(KB_CPU, 0, &e);
    gpt2_config cfg = {.L = 2, .C = 32, .NH = 2, .V = 100, .Vp = 128, .maxT = 16};
    gpt2 m;
    gpt2_build(&m, ctx, &cfg, 2, 16, 1);
    gpt2_init(&m, 4);
    enum { N = 32 };
    int32_t tok[N], all[N], masked[N], comp[N];
    uint64_t r = 9;
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(rng_next(&r) % 99);
        all[i] = (int32_t)(rng_next(&r) % 99);
        int prompt = (i % 16) < 6 || i % 5 == 0;  // a prompt of 6 tokens per row and some more
        masked[i] = prompt ? -1 : all[i];
        comp[i] = prompt ? all[i] : -1;
    }
    float per[N];
    gpt2_reset_loss(&m);
    gpt2_forward(&m, tok, all, 2, 16);
    kb_download(ctx, per, m.losses, sizeof per);
    float sub = 0;  // the same order as the model's fixed-order sum, zeros where masked
    for (int i = 0; i < N; i++) sub += masked[i] >= 0 ? per[i] : 0.0f;
    double ls;
    gpt2_reset_loss(&m);
    gpt2_forward(&m, tok, masked, 2, 16);
    gpt2_read_stats(&m, &ls, NULL);
    CHECK((float)ls == sub, "masked loss %.9g is not exactly the kept positions' sum %.9g", ls, (double)sub);

    size_t n = m.n_params;
    float *ga = xmalloc(n * 4), *gb = xmalloc(n * 4);
    gpt2_zero_grad(&m);
    gpt2_forward_backward(&m, tok, all, 2, 16, 1.0f / N, 0);
    kb_download(ctx, ga, m.grads, n * 4);
    gpt2_zero_grad(&m);
    gpt2_forward_backward(&m, tok, masked, 2, 16, 1.0f / N, 0);
    gpt2_forward_backward(&m, tok, comp, 2, 16, 1.0f / N, 0);
    kb_download(ctx, gb, m.grads, n * 4);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (double)(ga[i] - gb[i]) * (ga[i] - gb[i]), den += (double)ga[i] * ga[i];
    CHECK(sqrt(num / den) < 1e-5, "masked + complement gradients differ from the full gradient (rel %.3g)", sqrt(num / den));
    // all targets masked: no gradient at all
    int32_t none[N];
    for (int i = 0; i < N; i++) none[i] = -1;
    gpt2_zero_grad(&m);
    gpt2_forward_backward(&m, tok, none, 2, 16, 1.0f / N, 0);
    kb_download(ctx, gb, m.grads, n * 4);
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= gb[i] == 0.0f;
    CHECK(zero, "a fully masked batch produced a gradient");
    free(ga);
    free(gb);
    gpt2_free(&m);
    kb_close(ctx);
}

int main(void) {
    test_partition();
    test_threaded_and_resume();
    test_sft_rows();
    test_sft_examples();
    test_masking_on_model();
    return test_summary();
}
