// bench_shards — shard write and read throughput in MB/s of uncompressed record bytes, and
// compression ratios, for token, problem and trajectory records (tests/bench/bench_shards.sh;
// results in tests/bench/RESULTS.md, "Shards").
//
// Records are synthetic but shaped like the real ones: token records of 65536 GPT-2 ids drawn
// from a Zipf(1.1) distribution (natural text's rank-frequency law); arithmetic problems with
// worked solutions in the step format; trajectory trees of 8 nodes with 96 tokens each and
// their log-probs. Everything is generated before timing. Writes include compression, the
// index, fsync and the atomic rename.
#include <getopt.h>
#include <math.h>

#include "tests/shards/util.h"

typedef struct workload {
    const char *name;
    uint32_t kind;
    bbuf *recs;
    size_t n;
    uint64_t raw;
} workload;

static uint32_t zipf(uint64_t *s, const double *cdf, uint32_t n) {
    double u = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void add(workload *w, bbuf *b) {
    if ((w->n & (w->n - 1)) == 0) w->recs = xrealloc(w->recs, (w->n ? 2 * w->n : 1) * sizeof *w->recs);
    w->recs[w->n++] = *b;
    w->raw += b->n;
    memset(b, 0, sizeof *b);
}

static workload make_tokens(uint64_t bytes, uint64_t *s) {
    enum { V = 50257, T = 65536 };
    double *cdf = xmalloc(V * sizeof *cdf), sum = 0;
    for (uint32_t i = 0; i < V; i++) sum += cdf[i] = pow(i + 1.0, -1.1);
    double acc = 0;
    for (uint32_t i = 0; i < V; i++) cdf[i] = (acc += cdf[i]) / sum;
    workload w = {"tokens", SHARD_TOKENS, NULL, 0, 0};
    uint32_t *ids = xmalloc(T * 4);
    while (w.raw < bytes) {
        for (uint32_t i = 0; i < T; i++) ids[i] = zipf(s, cdf, V);
        bbuf b = {0};
        tokens_encode(&b, ids, T);
        add(&w, &b);
    }
    free(ids);
    free(cdf);
    return w;
}

static workload make_problems(uint64_t bytes, uint64_t *s) {
    workload w = {"problems", SHARD_PROBLEMS, NULL, 0, 0};
    char prompt[256], answer[32], solution[1024];
    for (uint64_t id = 0; w.raw < bytes; id++) {
        int a = (int)rnd(s, 1000), b = (int)rnd(s, 1000), c = (int)rnd(s, 100), d = (int)rnd(s, 1000);
        snprintf(prompt, sizeof prompt, "Compute (%d + %d) * %d - %d.\n", a, b, c, d);
        snprintf(answer, sizeof answer, "%d", (a + b) * c - d);
        snprintf(solution, sizeof solution, "<|step|>%d + %d = %d\n<|step|>%d * %d = %d\n<|step|>%d - %d = %d\n<|answer|>%d\n",
                 a, b, a + b, a + b, c, (a + b) * c, (a + b) * c, d, (a + b) * c - d, (a + b) * c - d);
        problem_rec p = {id, TASK_ARITH, id % 10 == 0 ? SPLIT_HELDOUT : SPLIT_TRAIN, 1 + (uint32_t)(id % 5),
                         prompt, answer, "", solution};
        bbuf r = {0};
        problem_encode(&r, &p);
        add(&w, &r);
    }
    return w;
}

static workload make_trajectories(uint64_t bytes, uint64_t *s) {
    workload w = {"trajectories", SHARD_TRAJECTORIES, NULL, 0, 0};
    uint32_t prompt[40];
    traj_node nodes[8];
    uint32_t toks[8][96], steps[8][3];
    float lps[8][96];
    for (uint64_t id = 0; w.raw < bytes; id++) {
        for (int i = 0; i < 40; i++) prompt[i] = rnd(s, 8192);
        for (uint32_t k = 0; k < 8; k++) {
            for (int i = 0; i < 96; i++) {
                toks[k][i] = rnd(s, 8192);
                lps[k][i] = -(float)rng_uniform(s) * (float)rng_uniform(s) * 8.0f;  // mostly near 0
            }
            steps[k][0] = 30, steps[k][1] = 60, steps[k][2] = 90;
            nodes[k] = (traj_node){k == 0 ? TRAJ_ROOT : (k - 1) / 2, k < 3 ? FINISH_BRANCHED : FINISH_ANSWER,
                                   mix64(id, k), 96, toks[k], lps[k], 3, steps[k]};
        }
        traj_rec t = {id, 1, 40, prompt, 8, nodes};
        bbuf r = {0};
        traj_encode(&r, &t);
        add(&w, &r);
    }
    return w;
}

typedef struct result {
    double write_s, read_s, decode_s, random_s;
    uint64_t file_bytes;
    uint32_t frames;
} result;

static void run(const workload *w, const char *dir, int level, int repeat, int randoms, result *best) {
    char *path = xasprintf("%s/bench-%s.shard", dir, w->name);
    berr e;
    memset(best, 0, sizeof *best);
    best->write_s = best->read_s = best->decode_s = best->random_s = INFINITY;
    uint64_t s = 9;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_sec();
        shard_write_opts o = {0, level};
        shard_writer *wr = shard_create_opts(path, w->kind, 1, "bench", &o, &e);
        if (!wr) die("%s", e.msg);
        for (size_t i = 0; i < w->n; i++)
            if (shard_append(wr, w->recs[i].p, w->recs[i].n, &e)) die("%s", e.msg);
        if (shard_finish(wr, &e)) die("%s", e.msg);
        double t1 = now_sec();
        shard_reader *rd = shard_open(path, &e);
        if (!rd) die("%s", e.msg);
        uint64_t sum = 0;
        for (uint64_t i = 0; i < w->n; i++) {
            const uint8_t *p;
            size_t len;
            if (shard_get(rd, i, &p, &len, &e)) die("%s", e.msg);
            sum += len ? p[len - 1] : 0;  // touch the data
        }
        double t2 = now_sec();
        shard_close(rd);
        rd = shard_open(path, &e);
        for (uint64_t i = 0; i < w->n; i++) {
            const uint8_t *p;
            size_t len;
            uint64_t key;
            if (shard_get(rd, i, &p, &len, &e) || record_check(w->kind, 1, p, len, &key, &e)) die("%s", e.msg);
        }
        double t3 = now_sec();
        for (int k = 0; k < randoms; k++) {
            const uint8_t *p;
            size_t len;
            if (shard_get(rd, rng_next(&s) % w->n, &p, &len, &e)) die("%s", e.msg);
        }
        double t4 = now_sec();
        best->file_bytes = shard_get_info(rd)->file_bytes;
        best->frames = shard_get_info(rd)->frames;
        shard_close(rd);
        if (sum == 1) fputc(' ', stderr);
        best->write_s = fmin(best->write_s, t1 - t0);
        best->read_s = fmin(best->read_s, t2 - t1);
        best->decode_s = fmin(best->decode_s, t3 - t2);
        best->random_s = fmin(best->random_s, t4 - t3);
    }
    unlink(path);
    free(path);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'}, {"mb", required_argument, 0, 'm'},
                                         {"repeat", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    int mb = 128, repeat = 3, c;
    berr e;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'm': if (parse_int("--mb", optarg, 1, 100000, &mb, &e)) die("%s", e.msg); break;
        case 'r': if (parse_int("--repeat", optarg, 1, 100, &repeat, &e)) die("%s", e.msg); break;
        case 'h':
            printf("usage: bench_shards [--dir DIR] [--mb N] [--repeat N]\n"
                   "  writes and reads N MB (uncompressed) of token records and N/2 MB of problem and\n"
                   "  trajectory records in DIR (default: a scratch directory), best of --repeat runs\n");
            return 0;
        default: die("bench_shards: unknown option (see --help)");
        }
    }
    char *scratch = dir ? NULL : scratch_dir("bench");
    if (!dir) dir = scratch;
    fprintf(stderr, "bench_shards: dir=%s mb=%d repeat=%d\n", dir, mb, repeat);
    uint64_t s = 1;
    workload ws[3] = {make_tokens((uint64_t)mb << 20, &s), make_problems((uint64_t)mb << 19, &s),
                      make_trajectories((uint64_t)mb << 19, &s)};
    printf("| records | zstd level | records | raw MB | ratio | write MB/s | read MB/s | read+decode MB/s | random reads/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    int levels[] = {3, 1, 9};
    for (int wi = 0; wi < 3; wi++)
        for (int li = 0; li < 3; li++) {
            result r;
            run(&ws[wi], dir, levels[li], repeat, 2000, &r);
            double mbs = ws[wi].raw / 1e6;
            printf("| %s | %d | %zu | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", ws[wi].name, levels[li], ws[wi].n, mbs,
                   (double)ws[wi].raw / (double)r.file_bytes, mbs / r.write_s, mbs / r.read_s, mbs / r.decode_s,
                   2000 / r.random_s);
            fflush(stdout);
        }
    for (int wi = 0; wi < 3; wi++) {
        for (size_t i = 0; i < ws[wi].n; i++) bbuf_free(&ws[wi].recs[i]);
        free(ws[wi].recs);
    }
    if (scratch) {
        rm_rf(scratch);
        free(scratch);
    }
    return 0;
}
