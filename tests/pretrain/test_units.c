// test_units.c — the pretrain stage's pieces that need no model: option parsing (strict, no
// abbreviations), run checks and their messages, resume merging, the learning-rate schedule,
// the trainer-state blob (every byte of damage caught), the epoch order, the run log's
// resume truncation, checkpoint directory listing and pruning.
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/train/ckptdir.h"
#include "pretrain/config.h"
#include "kernels/train/order.h"
#include "kernels/train/runlog.h"
#include "kernels/train/schedule.h"
#include "kernels/train/state.h"
#include "tests/test.h"

static const cli_table *tab = &pt_config_table;

// Parses a command line (space-separated words) into c; returns cli_parse's code.
static int parse(pt_config *c, unsigned char *given, const char *line, berr *e) {
    char buf[1024], *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    argv[argc++] = "pretrain";
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    if (cli_defaults(tab, c, e)) return -1;
    memset(given, 0, (size_t)tab->n);
    return cli_parse(tab, c, argc, argv, 1, given, e);
}

// The run check's message for a command line ("" when it passes).
static const char *check_msg(const char *line, int world) {
    static berr e;
    pt_config c;
    unsigned char given[128];
    pt_plan p;
    e.msg[0] = 0;
    if (parse(&c, given, line, &e) == 0 && pt_config_check(&c, given, world, &p, &e) == 0) e.msg[0] = 0;
    cli_free(tab, &c);
    return e.msg;
}

static void test_parse(void) {
    pt_config c;
    unsigned char given[128];
    berr e;
    CHECK(parse(&c, given, "--data d --out o --steps 10 --lr 1e-3 --micro-batch=8 --sft", &e) == 0, "%s", e.msg);
    CHECK(strcmp(c.data, "d") == 0 && c.steps == 10 && c.lr == 1e-3 && c.micro_batch == 8 && c.sft == 1, "values");
    CHECK(c.seq_len == 1024 && c.schedule == TR_SCHED_COSINE && c.grad_clip == 1.0, "defaults");
    CHECK(given[cli_find(tab, "lr") - tab->opts] && !given[cli_find(tab, "seq-len") - tab->opts], "given[]");
    cli_free(tab, &c);
    CHECK(parse(&c, given, "--tokens 5M --schedule linear", &e) == 0 && c.tokens == 5000000 && c.schedule == 1, "%s", e.msg);
    cli_free(tab, &c);

    struct { const char *line, *needle; } bad[] = {
        {"--lr", "needs a value"},
        {"--lr abc", "--lr needs a number"},
        {"--lr 0", "--lr must be in"},
        {"--micro-batch 0", "--micro-batch must be in"},
        {"--seq-len 1x", "--seq-len needs a whole number"},
        {"--schedule cubic", "--schedule must be one of cosine, linear, constant"},
        {"--frobnicate 3", "unknown option '--frobnicate'"},
        {"--step 5", "abbreviations are not accepted; did you mean --steps"},
        {"--data d stray", "unexpected argument 'stray'"},
        {"-x", "unknown option '-x'"},
        {"--sft=2", "--sft takes no value"},
        {"--beta2 1", "--beta2 must be in"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(&c, given, bad[i].line, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].needle), "'%s' gave rc %d '%s', wanted '%s'", bad[i].line, rc, e.msg,
              bad[i].needle);
        cli_free(tab, &c);
    }
    CHECK(parse(&c, given, "--lr 1 --help", &e) == 1, "--help is reported");
    cli_free(tab, &c);

    // serialization round trip: every stored option comes back with the same value
    CHECK(parse(&c, given, "--data /x/y --out o --steps 7 --lr 3.3e-4 --seed 99 --schedule constant", &e) == 0, "%s", e.msg);
    bbuf b = {0};
    cli_serialize(&b, tab, &c);
    pt_config d;
    cli_defaults(tab, &d, &e);
    CHECK(cli_deserialize(tab, &d, (char *)b.p, b.n, &e) == 0, "%s", e.msg);
    CHECK(strcmp(d.data, "/x/y") == 0 && d.steps == 7 && d.lr == 3.3e-4 && d.seed == 99 && d.schedule == 2 && !d.out,
          "round trip (out is not stored)");
    CHECK(cli_deserialize(tab, &d, "bogus=1\n", 8, &e) != 0 && strstr(e.msg, "unknown option 'bogus'"), "%s", e.msg);
    CHECK(cli_deserialize(tab, &d, "lr=1", 4, &e) != 0 && strstr(e.msg, "not terminated"), "%s", e.msg);
    bbuf_free(&b);
    cli_free(tab, &c);
    cli_free(tab, &d);
}

static void test_checks(void) {
    const char *base = "--data d --out o --steps 10";
    char line[512];
    CHECK(*check_msg(base, 1) == 0, "a minimal run passes: %s", check_msg(base, 1));
    struct { const char *extra; int world; const char *needle; } bad[] = {
        {"--tokens 100", 1, "--steps and --tokens: give one"},
        {"--batch-tokens 1000 --micro-batch 4 --seq-len 64", 2, "not a multiple of micro-batch × seq-len × ranks = 4 × 64 × 2 = 512"},
        {"--warmup 11", 1, "--warmup 11 is longer than the run (10 steps)"},
        {"--problems p", 1, "--problems and --val-problems are only used with --sft"},
        {"--context 100 --seq-len 200", 1, "--context 100 is shorter than --seq-len 200"},
        {"--sample-every 5", 1, "--sample-every needs --tokenizer"},
        {"--val-fraction 0", 1, "needs validation data"},
        {"--resume --init-from x", 1, "give one"},
        {"--val v --val-fraction 0.1", 1, "--val and --val-fraction"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "%s %s", base, bad[i].extra);
        const char *m = check_msg(line, bad[i].world);
        CHECK(strstr(m, bad[i].needle) != NULL, "'%s': got '%s', wanted '%s'", line, m, bad[i].needle);
    }
    CHECK(strstr(check_msg("--data d --steps 1", 1), "--out DIR is required"), "no --out");
    CHECK(strstr(check_msg("--out o --steps 1", 1), "--data PATH is required"), "no --data");
    CHECK(strstr(check_msg("--out o --data d", 1), "give --steps N or --tokens N"), "no length");
    CHECK(strstr(check_msg("--out o --sft --problems p --steps 1", 1), "--sft needs --tokenizer"), "sft tokenizer");
    CHECK(strstr(check_msg("--out o --sft --problems p --tokenizer t --data d --steps 1", 1), "--sft trains on --problems"), "sft data");

    // derived values
    pt_config c;
    unsigned char given[128];
    pt_plan p;
    berr e;
    parse(&c, given, "--data d --out o --tokens 10000 --micro-batch 2 --seq-len 100 --batch-tokens 800", &e);
    CHECK(pt_config_check(&c, given, 2, &p, &e) == 0, "%s", e.msg);
    CHECK(p.accum == 2 && p.steps == 13 && p.seqs_per_step == 8, "accum %d steps %lld seqs %lld", p.accum,
          (long long)p.steps, (long long)p.seqs_per_step);
    // the model: by depth, explicit, or from a checkpoint (which explicit options must match)
    CHECK(pt_plan_model(&c, given, NULL, 0, &p, &e) != 0 && strstr(e.msg, "vocabulary"), "%s", e.msg);
    CHECK(pt_plan_model(&c, given, NULL, 300, &p, &e) != 0 && strstr(e.msg, "--depth D, or all of"), "%s", e.msg);
    cli_free(tab, &c);
    parse(&c, given, "--data d --out o --steps 1 --seq-len 64 --depth 2", &e);
    CHECK(pt_plan_model(&c, given, NULL, 300, &p, &e) == 0 && p.model.L == 2 && p.model.C == 128 && p.model.NH == 2 &&
              p.model.V == 300 && p.model.Vp == 384 && p.model.maxT == 64, "depth model: %s", e.msg);
    gpt2_config ck = p.model;
    ck.L = 3;
    CHECK(pt_plan_model(&c, given, &ck, 300, &p, &e) != 0 && strstr(e.msg, "--depth 2 (L=2 C=128 heads=2) differs"), "%s", e.msg);
    gpt2_config d24 = gpt2_config_depth(24, 50257, 1024), d6 = gpt2_config_depth(6, 50257, 1024);
    CHECK(d24.L == 24 && d24.C == 1024 && d24.NH == 16 && gpt2_param_count(&d24) > 350000000 &&
              gpt2_param_count(&d24) < 360000000, "d24 is GPT-2 350M (%zu)", gpt2_param_count(&d24));
    CHECK(d6.L == 6 && d6.C == 384 && d6.NH == 6, "d6: 64·D channels, D heads");
    cli_free(tab, &c);
    parse(&c, given, "--data d --out o --steps 1 --seq-len 128", &e);
    CHECK(pt_plan_model(&c, given, &ck, 300, &p, &e) != 0 && strstr(e.msg, "exceeds the model's context 64"), "%s", e.msg);
    cli_free(tab, &c);
}

static void test_resume_merge(void) {
    pt_config c, m;
    unsigned char given[128];
    berr e;
    parse(&c, given, "--data d --out o --steps 10 --lr 1e-3 --eval-every 5", &e);
    bbuf b = {0};
    cli_serialize(&b, tab, &c);
    cli_free(tab, &c);
    // the stored run comes back; FREE options may change; LOCAL ones come from the command line
    parse(&c, given, "--out o2 --resume --eval-every 7 --data d2", &e);
    CHECK(pt_config_merge_resume(&c, given, (char *)b.p, b.n, &m, &e) == 0, "%s", e.msg);
    CHECK(m.steps == 10 && m.lr == 1e-3 && m.eval_every == 7 && strcmp(m.data, "d2") == 0 && strcmp(m.out, "o2") == 0 &&
              m.resume == 1, "merged values");
    cli_free(tab, &m);
    cli_free(tab, &c);
    // KEEP options must not change
    parse(&c, given, "--out o --resume --lr 2e-3", &e);
    CHECK(pt_config_merge_resume(&c, given, (char *)b.p, b.n, &m, &e) != 0 && strstr(e.msg, "--lr 0.002") &&
              strstr(e.msg, "keeps its configuration"), "%s", e.msg);
    cli_free(tab, &m);
    cli_free(tab, &c);
    parse(&c, given, "--out o --resume --lr 1e-3 --steps 10", &e);  // same values are fine
    CHECK(pt_config_merge_resume(&c, given, (char *)b.p, b.n, &m, &e) == 0, "%s", e.msg);
    cli_free(tab, &m);
    cli_free(tab, &c);
    bbuf_free(&b);
}

static void test_schedule(void) {
    tr_schedule s = {.lr = 1.0, .final_frac = 0.1, .warmup = 10, .steps = 111, .kind = TR_SCHED_COSINE};
    CHECK(tr_lr(&s, 0) == 0.1 && tr_lr(&s, 4) == 0.5 && tr_lr(&s, 9) == 1.0, "warmup %g %g %g", tr_lr(&s, 0), tr_lr(&s, 4), tr_lr(&s, 9));
    CHECK(tr_lr(&s, 10) == 1.0 && fabs(tr_lr(&s, 110) - 0.1) < 1e-15, "cosine ends %g %g", tr_lr(&s, 10), tr_lr(&s, 110));
    CHECK(fabs(tr_lr(&s, 60) - 0.55) < 1e-12, "cosine midpoint %g", tr_lr(&s, 60));
    int mono = 1;
    for (int i = 10; i < 110; i++) mono &= tr_lr(&s, i + 1) <= tr_lr(&s, i);
    CHECK(mono, "cosine decays monotonically");
    s.kind = TR_SCHED_LINEAR;
    CHECK(fabs(tr_lr(&s, 60) - 0.55) < 1e-12 && fabs(tr_lr(&s, 35) - 0.775) < 1e-12, "linear %g", tr_lr(&s, 35));
    s.kind = TR_SCHED_CONSTANT;
    CHECK(tr_lr(&s, 50) == 1.0 && tr_lr(&s, 110) == 1.0, "constant");
    tr_schedule one = {.lr = 0.5, .final_frac = 0, .warmup = 0, .steps = 1, .kind = TR_SCHED_COSINE};
    CHECK(tr_lr(&one, 0) == 0.5, "a one-step run trains at the peak");
}

static void test_state(void) {
    tr_state s = {.world = 2, .step = 123, .cursor = 456789, .rng = 0xdeadbeefcafef00dull, .tokens = 1ull << 40,
                  .flops = 1.25e18, .data_fp = 77, .val_fp = 88};
    s.opts = "lr=0.001\nsteps=10\n";
    s.opts_len = strlen(s.opts);
    bbuf b = {0};
    tr_state_encode(&s, &b);
    tr_state d;
    berr e;
    CHECK(tr_state_decode(b.p, b.n, "blob", &d, &e) == 0, "%s", e.msg);
    CHECK(d.world == 2 && d.step == 123 && d.cursor == 456789 && d.rng == s.rng && d.tokens == s.tokens &&
              d.flops == 1.25e18 && d.data_fp == 77 && d.val_fp == 88 && strcmp(d.opts, s.opts) == 0, "round trip");
    tr_state_free(&d);
    int caught = 1;
    for (size_t i = 0; i < b.n; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            b.p[i] ^= (uint8_t)(1u << bit);
            if (tr_state_decode(b.p, b.n, "blob", &d, &e) == 0) {
                caught = 0;
                tr_state_free(&d);
            }
            b.p[i] ^= (uint8_t)(1u << bit);
        }
    CHECK(caught, "a flipped bit in the trainer state went unnoticed");
    for (size_t n = 0; n < b.n; n++)
        if (tr_state_decode(b.p, n, "blob", &d, &e) == 0) {
            caught = 0;
            tr_state_free(&d);
        }
    CHECK(caught, "a truncated trainer state was accepted");
    CHECK(tr_state_decode("BERRYCKPxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 90, "x", &d, &e) != 0 &&
              strstr(e.msg, "no pretrain magic"), "%s", e.msg);
    bbuf_free(&b);
}

static void test_order(void) {
    tr_order o;
    tr_order_init(&o, 1000, 42, 1);
    unsigned char seen[1000] = {0};
    int perm = 1, moved = 0;
    for (uint64_t g = 0; g < 1000; g++) {
        uint64_t k = tr_order_item(&o, g);
        perm &= k < 1000 && !seen[k];
        if (k < 1000) seen[k] = 1;
        moved += k != g;
    }
    CHECK(perm && moved > 900, "epoch 0 is a shuffled permutation (%d moved)", moved);
    uint64_t a = tr_order_item(&o, 1000), b0 = tr_order_item(&o, 0);
    int differ = 0;
    for (uint64_t g = 0; g < 20; g++) differ += tr_order_item(&o, 1000 + g) != tr_order_item(&o, g);
    CHECK(differ > 10, "epoch 1 has its own permutation (%llu %llu)", (unsigned long long)a, (unsigned long long)b0);
    tr_order o2;
    tr_order_init(&o2, 1000, 42, 1);
    int same = 1;
    for (int64_t g = 2500; g >= 0; g -= 7) same &= tr_order_item(&o, (uint64_t)g) == tr_order_item(&o2, (uint64_t)g);  // any visiting order
    CHECK(same, "the order is a function of (seed, position) alone");
    tr_order_free(&o2);
    tr_order_init(&o2, 1000, 43, 1);
    differ = 0;
    for (uint64_t g = 0; g < 20; g++) differ += tr_order_item(&o, g) != tr_order_item(&o2, g);
    CHECK(differ > 10, "another seed gives another order");
    tr_order_free(&o2);
    tr_order_init(&o2, 10, 1, 0);
    CHECK(tr_order_item(&o2, 3) == 3 && tr_order_item(&o2, 13) == 3, "no shuffle: identity per epoch");
    tr_order_free(&o2);
    tr_order_free(&o);
}

static void test_runlog(void) {
    double v;
    CHECK(tr_log_number("{\"step\": 12, \"loss\": 3.5}", "loss", &v) && v == 3.5, "number");
    CHECK(!tr_log_number("{\"sample\": \"\\\"loss\\\": 9\", \"step\": 1}", "loss", &v), "a key inside a string is not a member");
    CHECK(!tr_log_number("{\"c\": {\"loss\": 2}, \"step\": 1}", "loss", &v), "a nested key is not top-level");
    CHECK(tr_log_number("{\"c\": {\"loss\": 2}, \"step\": 1}", "step", &v) && v == 1, "after a nested object");

    char dir[] = "/tmp/berry_logXXXXXX";
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    char *path = xasprintf("%s/log.jsonl", dir);
    berr e;
    FILE *f = fopen(path, "w");
    fputs("{\"event\": \"config\", \"step\": 0}\n{\"step\": 1, \"loss\": 5}\n{\"step\": 2, \"loss\": 4}\n"
          "{\"step\": 3, \"loss\": 3}\n{\"step\": 4, \"lo",
          f);
    fclose(f);
    tr_log l;
    int64_t dropped;
    CHECK(tr_log_open(&l, path, 2, &dropped, &e) == 0, "%s", e.msg);
    CHECK(dropped == 2, "dropped %lld (step 3 and the partial line)", (long long)dropped);
    tr_log_rec(&l, "\"step\": 3, \"loss\": %g", 2.5);
    tr_log_close(&l);
    char *buf;
    size_t len;
    read_file(path, &buf, &len, &e);
    CHECK(strcmp(buf, "{\"event\": \"config\", \"step\": 0}\n{\"step\": 1, \"loss\": 5}\n{\"step\": 2, \"loss\": 4}\n"
                      "{\"step\": 3, \"loss\": 2.5}\n") == 0, "log after resume:\n%s", buf);
    free(buf);
    CHECK(tr_log_open(&l, path, -1, NULL, &e) == 0, "new run");
    tr_log_close(&l);
    read_file(path, &buf, &len, &e);
    CHECK(len == 0, "a new run starts an empty log");
    free(buf);
    unlink(path);
    free(path);

    // checkpoint directory: listing ignores temporaries and other names; prune keeps the newest
    int64_t steps[] = {30, 10, 20, 1000000000};
    for (int i = 0; i < 4; i++) {
        char *p = tr_ckpt_path(dir, steps[i]);
        write_file_atomic(p, "x", 1, &e);
        free(p);
    }
    char *junk[] = {"ckpt_00000040.bin.tmp.123", "ckpt_5.bin", "ckpt_0000000x.bin", "model.bin"};
    for (int i = 0; i < 4; i++) {
        char *p = xasprintf("%s/%s", dir, junk[i]);
        write_file_atomic(p, "x", 1, &e);
        free(p);
    }
    int64_t *got;
    int n;
    CHECK(tr_ckpt_list(dir, &got, &n, &e) == 0 && n == 4 && got[0] == 10 && got[1] == 20 && got[2] == 30 &&
              got[3] == 1000000000, "listing (%d)", n);
    free(got);
    CHECK(tr_ckpt_prune(dir, 2, &e) == 0, "%s", e.msg);
    CHECK(tr_ckpt_list(dir, &got, &n, &e) == 0 && n == 2 && got[0] == 30 && got[1] == 1000000000, "prune kept %d", n);
    free(got);
    char *latest;
    CHECK(tr_ckpt_latest(dir, &latest, &e) != 0 && strstr(e.msg, "no usable checkpoint"), "junk files are not checkpoints: %s", e.msg);
    char *cmd = xasprintf("rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    free(cmd);
}

int main(void) {
    test_parse();
    test_checks();
    test_resume_merge();
    test_schedule();
    test_state();
    test_order();
    test_runlog();
    return test_summary();
}
