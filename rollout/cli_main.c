// cli_main.c — build/bin/rollout: reads problem shards as a streaming consumer, samples a
// trajectory tree per problem with the policy, writes trajectory shards exactly once across
// restarts, and can follow a checkpoint directory for new policy versions.
// Usage and design: rollout/README.md.
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "rollout/cli.h"
#include "rollout/engine.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"

typedef struct opts {
    const char *policy, *follow, *tokenizer, *problems, *out, *name, *instruction, *stats;
    int64_t policy_version;  // -1: from the file name (policy-v<N>.bin), else 0
    double follow_poll, progress, commit_seconds, idle_timeout;
    int64_t pace_n, pace_ahead;  // --pace N,K (0: off)
    int part, parts, commit_records, skip_long, backend;  // backend: 0 auto, 1 cpu, 2 cuda
    size_t kv_bytes;                                     // 0: the backend's default
    ro_config rc;
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: rollout (--policy FILE | --follow DIR) --tokenizer FILE --problems DIR --out DIR [options]\n"
            "\n"
            "Samples a Monte-Carlo trajectory tree for every problem of a problem shard directory and writes\n"
            "them as trajectory shards (rollout/README.md).\n"
            "\n"
            "policy and data:\n"
            "  --policy FILE          policy checkpoint\n"
            "  --policy-version N     its version (default: N of a file named policy-v<N>.bin, else 0)\n"
            "  --follow DIR           use the newest DIR/policy-v<N>.bin and pick up each newer one as it is\n"
            "                         published (problems started after that use it; running ones finish first)\n"
            "  --follow-poll SEC      how often to look for a new version (default 1)\n"
            "  --pace N,K             with --follow: start the p-th problem (stream order) only with a policy\n"
            "                         version >= p/N - K: a trainer taking N trees a version is never more\n"
            "                         than K versions behind (the RL loop's pooled placement)\n"
            "  --tokenizer FILE       berry tokenizer file (its vocabulary must be the checkpoint's)\n"
            "  --problems DIR         problem shard directory (streamed: shards are taken as they appear)\n"
            "  --out DIR              trajectory shard directory\n"
            "  --name NAME            producer name in DIR (default rollout; rollout.p<K>of<N> with --parts)\n"
            "  --part K --parts N     this process takes part K of N of the input shards (default 0 of 1)\n"
            "  --instruction FILE     text put before every prompt (a shared instruction: its KV is stored once)\n"
            "  --skip-long-prompts    report and skip a prompt that leaves no room in the context (default: fail)\n"
            "  --idle-timeout SEC     fail after SEC without new input (default 0: wait for ever)\n"
            "\n"
            "branching:\n"
            "  --roots N              trajectories started per problem (default 4)\n"
            "  --fork K               children per node at a step boundary (default 2)\n"
            "  --depth D              forks along one trajectory at most (default 2; 0: no branching)\n"
            "  --budget N             tokens generated per problem at most, all nodes together (default 0: no limit)\n"
            "  --max-new N            tokens generated per trajectory, root to leaf (default 256)\n"
            "  --force-step N         also treat every N-th token of a node as a step marker (tests, benchmarks)\n"
            "\n"
            "sampling:\n"
            "  --temperature X        (default 1; 0: greedy)\n"
            "  --top-k K              (default 0: all)\n"
            "  --top-p P              (default 1: all)\n"
            "  --seed N               run seed; node seeds derive from it and the problem id (default 1)\n"
            "\n"
            "engine:\n"
            "  --backend B            auto, cpu or cuda (default auto)\n"
            "  --kv-budget BYTES      KV cache size, e.g. 512M, 16G (default: 1G on cpu, 16G on cuda)\n"
            "  --block-size N         positions per KV block (default 16)\n"
            "  --max-batch N          sequences per decode step (default 64)\n"
            "  --prefill-tokens N     prompt tokens per prefill step (default 512)\n"
            "  --prefill-pad N        pad prefill calls to a multiple of N rows, so few matmul shapes\n"
            "                         occur (default 0: 64 on CUDA, 1 on the CPU)\n"
            "  --buckets LIST         decode batch sizes captured as graphs, e.g. 8,16,32,64 (default: powers of 2)\n"
            "  --no-share             compute every node from scratch: no prefix tree, no shared blocks\n"
            "  --cascade MODE         shared-prompt attention: auto, on or off (default auto)\n"
            "\n"
            "output:\n"
            "  --commit-records N     publish an output shard after N trees (default 64)\n"
            "  --commit-seconds SEC   ... or after SEC with trees pending (default 10)\n"
            "  --progress SEC         progress line interval (default 10)\n"
            "  --stats FILE           run statistics as JSON (default OUT/<producer>.stats.json)\n"
            "  --help\n");
}

static int parse_bytes(const char *flag, const char *s, size_t *out, berr *e) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return berr_set(e, "%s: '%s' is not a size in bytes (e.g. 512M, 16G)", flag, s);
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm') mul = 1048576.0, end++;
    else if (*end == 'G' || *end == 'g') mul = 1073741824.0, end++;
    else if (*end == 'T' || *end == 't') mul = 1099511627776.0, end++;
    if (*end == 'B' || *end == 'i') end++;
    if (*end) return berr_set(e, "%s: '%s' is not a size in bytes (e.g. 512M, 16G)", flag, s);
    if (v * mul > 1e15) return berr_set(e, "%s: %s is too large", flag, s);
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_buckets(const char *s, ro_config *c, berr *e) {
    c->nbuckets = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65536 || (*end && *end != ','))
            return berr_set(e, "--buckets: '%s' is not a list of batch sizes like 8,16,32,64", s);
        if (c->nbuckets == RO_MAX_BUCKETS) return berr_set(e, "--buckets: at most %d sizes", RO_MAX_BUCKETS);
        c->buckets[c->nbuckets++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!c->nbuckets) return berr_set(e, "--buckets: empty list");
    return 0;
}

enum {
    O_POLICY = 256, O_POLICY_VERSION, O_FOLLOW, O_FOLLOW_POLL, O_TOKENIZER, O_PROBLEMS, O_OUT, O_NAME, O_PART, O_PARTS,
    O_INSTRUCTION, O_SKIP_LONG, O_IDLE, O_PACE, O_ROOTS, O_FORK, O_DEPTH, O_BUDGET, O_MAX_NEW, O_FORCE_STEP, O_TEMP, O_TOPK,
    O_TOPP, O_SEED, O_BACKEND, O_KV, O_BS, O_MAX_BATCH, O_PREFILL, O_PREFILL_PAD, O_BUCKETS, O_NO_SHARE, O_CASCADE, O_COMMIT_RECORDS,
    O_COMMIT_SECONDS, O_PROGRESS, O_STATS, O_HELP
};

static int parse_opts(int argc, char **argv, opts *o, berr *e) {
    static const struct option lo[] = {
        {"policy", 1, 0, O_POLICY}, {"policy-version", 1, 0, O_POLICY_VERSION}, {"follow", 1, 0, O_FOLLOW},
        {"follow-poll", 1, 0, O_FOLLOW_POLL}, {"tokenizer", 1, 0, O_TOKENIZER}, {"problems", 1, 0, O_PROBLEMS},
        {"out", 1, 0, O_OUT}, {"name", 1, 0, O_NAME}, {"part", 1, 0, O_PART}, {"parts", 1, 0, O_PARTS},
        {"instruction", 1, 0, O_INSTRUCTION}, {"skip-long-prompts", 0, 0, O_SKIP_LONG}, {"idle-timeout", 1, 0, O_IDLE}, {"pace", 1, 0, O_PACE},
        {"roots", 1, 0, O_ROOTS}, {"fork", 1, 0, O_FORK}, {"depth", 1, 0, O_DEPTH}, {"budget", 1, 0, O_BUDGET},
        {"max-new", 1, 0, O_MAX_NEW}, {"force-step", 1, 0, O_FORCE_STEP}, {"temperature", 1, 0, O_TEMP},
        {"top-k", 1, 0, O_TOPK}, {"top-p", 1, 0, O_TOPP}, {"seed", 1, 0, O_SEED}, {"backend", 1, 0, O_BACKEND},
        {"kv-budget", 1, 0, O_KV}, {"block-size", 1, 0, O_BS}, {"max-batch", 1, 0, O_MAX_BATCH},
        {"prefill-tokens", 1, 0, O_PREFILL}, {"prefill-pad", 1, 0, O_PREFILL_PAD}, {"buckets", 1, 0, O_BUCKETS}, {"no-share", 0, 0, O_NO_SHARE},
        {"cascade", 1, 0, O_CASCADE}, {"commit-records", 1, 0, O_COMMIT_RECORDS},
        {"commit-seconds", 1, 0, O_COMMIT_SECONDS}, {"progress", 1, 0, O_PROGRESS}, {"stats", 1, 0, O_STATS},
        {"help", 0, 0, O_HELP}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    ro_config_default(&o->rc);
    o->name = "rollout";
    o->policy_version = -1;
    o->follow_poll = 1;
    o->progress = 10;
    o->commit_seconds = 10;
    o->commit_records = 64;
    o->parts = 1;
    int c;
    int64_t i64;
    double f;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        const char *a = optarg;
        int rc = 0;
        switch (c) {
        case O_POLICY: o->policy = a; break;
        case O_POLICY_VERSION: rc = parse_i64("--policy-version", a, 0, UINT32_MAX, &o->policy_version, e); break;
        case O_FOLLOW: o->follow = a; break;
        case O_FOLLOW_POLL: rc = parse_f64("--follow-poll", a, 0.001, 3600, &o->follow_poll, e); break;
        case O_TOKENIZER: o->tokenizer = a; break;
        case O_PROBLEMS: o->problems = a; break;
        case O_OUT: o->out = a; break;
        case O_NAME: o->name = a; break;
        case O_PART: rc = parse_int("--part", a, 0, 65535, &o->part, e); break;
        case O_PARTS: rc = parse_int("--parts", a, 1, 65536, &o->parts, e); break;
        case O_INSTRUCTION: o->instruction = a; break;
        case O_SKIP_LONG: o->skip_long = 1; break;
        case O_IDLE: rc = parse_f64("--idle-timeout", a, 0, 1e9, &o->idle_timeout, e); break;
        case O_PACE: {
            const char *comma = strchr(a, ',');
            char nbuf[32];
            if (!comma || (size_t)(comma - a) >= sizeof nbuf) {
                rc = berr_set(e, "--pace wants N,K (problems a policy version, versions ahead), got '%s'", a);
                break;
            }
            snprintf(nbuf, sizeof nbuf, "%.*s", (int)(comma - a), a);
            rc = parse_i64("--pace N", nbuf, 1, INT32_MAX, &o->pace_n, e);
            if (!rc) rc = parse_i64("--pace K", comma + 1, 0, INT32_MAX, &o->pace_ahead, e);
            break;
        }
        case O_ROOTS: rc = parse_int("--roots", a, 1, 4096, &o->rc.roots, e); break;
        case O_FORK: rc = parse_int("--fork", a, 1, 64, &o->rc.fork, e); break;
        case O_DEPTH: rc = parse_int("--depth", a, 0, 64, &o->rc.depth, e); break;
        case O_BUDGET: rc = parse_count("--budget", a, 0, INT64_MAX / 2, &o->rc.budget, e); break;
        case O_MAX_NEW: rc = parse_int("--max-new", a, 1, 1 << 24, &o->rc.max_new, e); break;
        case O_FORCE_STEP: rc = parse_int("--force-step", a, 0, 1 << 24, &o->rc.force_step, e); break;
        case O_TEMP: rc = parse_f64("--temperature", a, 0, 100, &f, e), o->rc.temperature = (float)f; break;
        case O_TOPK: rc = parse_int("--top-k", a, 0, 1 << 24, &o->rc.top_k, e); break;
        case O_TOPP: rc = parse_f64("--top-p", a, 1e-6, 1, &f, e), o->rc.top_p = (float)f; break;
        case O_SEED: rc = parse_i64("--seed", a, 0, INT64_MAX, &i64, e), o->rc.seed = (uint64_t)i64; break;
        case O_BACKEND:
            if (!strcmp(a, "auto")) o->backend = 0;
            else if (!strcmp(a, "cpu")) o->backend = 1;
            else if (!strcmp(a, "cuda")) o->backend = 2;
            else rc = berr_set(e, "--backend: '%s' is not auto, cpu or cuda", a);
            break;
        case O_KV: rc = parse_bytes("--kv-budget", a, &o->kv_bytes, e); break;
        case O_BS: rc = parse_int("--block-size", a, 1, 256, &o->rc.block_size, e); break;
        case O_MAX_BATCH: rc = parse_int("--max-batch", a, 1, 65536, &o->rc.max_batch, e); break;
        case O_PREFILL: rc = parse_int("--prefill-tokens", a, 1, 65536, &o->rc.prefill_tokens, e); break;
        case O_PREFILL_PAD: rc = parse_int("--prefill-pad", a, 0, 4096, &o->rc.prefill_pad, e); break;
        case O_BUCKETS: rc = parse_buckets(a, &o->rc, e); break;
        case O_NO_SHARE: o->rc.share = 0; break;
        case O_CASCADE:
            if (!strcmp(a, "auto")) o->rc.cascade = -1;
            else if (!strcmp(a, "on")) o->rc.cascade = 1;
            else if (!strcmp(a, "off")) o->rc.cascade = 0;
            else rc = berr_set(e, "--cascade: '%s' is not auto, on or off", a);
            break;
        case O_COMMIT_RECORDS: rc = parse_int("--commit-records", a, 1, 1 << 24, &o->commit_records, e); break;
        case O_COMMIT_SECONDS: rc = parse_f64("--commit-seconds", a, 0.001, 1e6, &o->commit_seconds, e); break;
        case O_PROGRESS: rc = parse_f64("--progress", a, 0.001, 1e6, &o->progress, e); break;
        case O_STATS: o->stats = a; break;
        case O_HELP: usage(stdout); exit(0);
        default:
            return berr_set(e, "unknown option or missing value: %s (see --help)", argv[optind - 1]);
        }
        if (rc) return -1;
    }
    if (optind < argc) return berr_set(e, "unexpected argument '%s' (see --help)", argv[optind]);
    if (!o->policy == !o->follow) return berr_set(e, "give exactly one of --policy FILE and --follow DIR (see --help)");
    if (!o->tokenizer || !o->problems || !o->out)
        return berr_set(e, "--tokenizer, --problems and --out are required (see --help)");
    if (o->part >= o->parts) return berr_set(e, "--part %d must be below --parts %d", o->part, o->parts);
    if (o->follow && o->policy_version >= 0) return berr_set(e, "--policy-version goes with --policy, not --follow");
    if (o->pace_n && !o->follow) return berr_set(e, "--pace goes with --follow (it waits for newer policy versions)");
    return 0;
}

// ---- the run ------------------------------------------------------------------------------------------

typedef struct held {  // a decoded problem waiting to be added to the engine
    int have;
    uint64_t id;
    int32_t *tok;
    int n, answer_line;
    ro_entry *entry;
} held;

typedef struct run {
    opts *o;
    char *producer, *stats_path;
    kb_ctx *ctx;
    gpt2 m;
    gpt2_config cfg;
    bpe *tok;
    uint8_t *newline;
    int32_t *instr;
    int n_instr;
    ro_engine *E;
    stream_reader *in;
    shard_dir_writer *out;
    ro_ledger L;
    uint32_t version;
    char *policy_path;
    int versions_used;
    uint64_t problems_read, skipped_long, trees_pending, tokens_written;
    uint64_t pace_base;  // problems committed by earlier runs (the stream index of this run's first)
    double t_start, t_commit, t_progress, t_poll;
    bbuf rec;
} run;

static int load_policy(run *r, const char *path, uint32_t version, berr *e) {
    gpt2_ckpt_info info;
    if (gpt2_ckpt_info_read(path, &info, e)) return -1;
    const gpt2_config *c = &info.cfg;
    if (c->V != bpe_vocab_size(r->tok))
        return berr_set(e, "checkpoint %s has a vocabulary of %d tokens but tokenizer %s has %d: they must be the same",
                        path, c->V, r->o->tokenizer, bpe_vocab_size(r->tok));
    if (r->E) {
        const gpt2_config *mc = &r->cfg;
        if (c->L != mc->L || c->C != mc->C || c->NH != mc->NH || c->maxT != mc->maxT || c->Vp != mc->Vp)
            return berr_set(e, "policy %s (L=%d C=%d NH=%d maxT=%d) has another shape than the running policy (L=%d C=%d "
                               "NH=%d maxT=%d)",
                            path, c->L, c->C, c->NH, c->maxT, mc->L, mc->C, mc->NH, mc->maxT);
    } else {
        r->cfg = *c;
        gpt2_build(&r->m, r->ctx, c, 1, 1, 0);
    }
    if (gpt2_load(&r->m, path, 0, NULL, NULL, e)) return berr_wrap(e, "loading policy %s", path);
    kb_sync(r->ctx);
    free(r->policy_path);
    r->policy_path = xstrdup(path);
    r->version = version;
    r->versions_used++;
    fprintf(stderr, "rollout: policy version %u from %s (L=%d C=%d NH=%d V=%d maxT=%d, step %llu)\n", version, path, c->L,
            c->C, c->NH, c->V, c->maxT, (unsigned long long)info.step);
    return 0;
}

// Hash of everything that shapes the trees: a restart with other options is refused.
static uint64_t config_hash(const run *r, const char *tok_bytes, size_t tok_len) {
    const ro_config *c = &r->o->rc;
    uint64_t h = hash64(tok_bytes, tok_len, 0x726f6c6c6f7574ull);
    h = hash64(r->instr, (size_t)r->n_instr * sizeof *r->instr, h);
    uint32_t fb[2];
    memcpy(&fb[0], &c->temperature, 4);
    memcpy(&fb[1], &c->top_p, 4);
    int64_t v[] = {c->roots, c->fork, c->depth, c->budget, c->max_new, c->top_k, (int64_t)c->seed, c->force_step, fb[0], fb[1]};
    return hash64(v, sizeof v, h);
}

static int commit(run *r, berr *e) {
    size_t len;
    char *meta = ledger_meta(&r->L, &len);
    int rc = shard_dir_publish(r->out, meta, len, e);
    free(meta);
    if (rc) return berr_wrap(e, "publishing trajectories in %s", r->o->out);
    ledger_committed(&r->L);
    r->trees_pending = 0;
    r->t_commit = now_sec();
    return 0;
}

static int write_tree(run *r, ro_result *res, berr *e) {
    ro_entry *x = res->user;
    traj_rec *t = &res->tree;
    r->rec.n = 0;
    traj_encode(&r->rec, t);
    if (shard_dir_append(r->out, r->rec.p, r->rec.n, e)) return berr_wrap(e, "writing trajectories to %s", r->o->out);
    x->done = 1;
    r->L.problems++;
    r->L.nodes += t->n_nodes;
    r->L.generated += res->generated;
    r->trees_pending++;
    return 0;
}

static void progress_line(run *r, const char *what) {
    const ro_stats *s = ro_stats_of(r->E);
    double el = now_sec() - r->t_start;
    fprintf(stderr,
            "rollout: %s %llu problems (%d running, %ld read ahead), %llu nodes, %llu tokens (%.0f tok/s), KV reused %llu, "
            "blocks %d/%d in use (peak %d), preempted %llu, policy v%u, %.1f s\n",
            what, (unsigned long long)s->problems, ro_running(r->E), (long)ledger_in_flight(&r->L) - ro_running(r->E),
            (unsigned long long)s->nodes, (unsigned long long)s->generated, el > 0 ? s->generated / el : 0.0,
            (unsigned long long)s->kv_reused, ro_kv_of(r->E)->in_use, s->blocks_total, s->peak_blocks,
            (unsigned long long)s->preemptions, r->version, el);
}

static int write_stats(run *r, berr *e) {
    const ro_stats *s = ro_stats_of(r->E);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    double el = now_sec() - r->t_start;
    const kb_counts *k = kb_counts_of(r->ctx, "rollout");
    double flops = k ? kb_counts_total_flops(k) : 0;
    fprintf(f, "{\"producer\":");
    json_string(f, r->producer, strlen(r->producer));
    fprintf(f, ",\"backend\":\"%s\",\"device\":", kb_backend_name(r->ctx));
    json_string(f, kb_device_name(r->ctx), strlen(kb_device_name(r->ctx)));
    fprintf(f, ",\"policy_version\":%u,\"versions_used\":%d", r->version, r->versions_used);
    fprintf(f, ",\"problems\":%llu,\"problems_read\":%llu,\"skipped_long_prompts\":%llu,\"nodes\":%llu",
            (unsigned long long)s->problems, (unsigned long long)r->problems_read, (unsigned long long)r->skipped_long,
            (unsigned long long)s->nodes);
    fprintf(f, ",\"tokens_generated\":%llu,\"kv_computed\":%llu,\"kv_reused\":%llu,\"kv_lost_preempted\":%llu,"
               "\"kv_from_scratch\":%llu",
            (unsigned long long)s->generated, (unsigned long long)s->kv_computed, (unsigned long long)s->kv_reused,
            (unsigned long long)s->kv_lost, (unsigned long long)s->baseline);
    fprintf(f, ",\"kv_reused_from_tree\":%llu,\"dedup_blocks\":%llu", (unsigned long long)s->kv_from_tree,
            (unsigned long long)s->dedup_blocks);
    fprintf(f, ",\"finish\":{\"branched\":%llu,\"answer\":%llu,\"eot\":%llu,\"maxlen\":%llu,\"budget\":%llu}",
            (unsigned long long)s->finish[0], (unsigned long long)s->finish[1], (unsigned long long)s->finish[2],
            (unsigned long long)s->finish[3], (unsigned long long)s->finish[4]);
    fprintf(f, ",\"kv_blocks\":%d,\"kv_block_bytes\":%zu,\"peak_kv_blocks\":%d,\"peak_kv_bytes\":%.0f,\"peak_sequences\":%d",
            s->blocks_total, s->block_bytes, s->peak_blocks, (double)s->peak_blocks * s->block_bytes, s->peak_live);
    fprintf(f, ",\"steps\":%llu,\"prefill_rows\":%llu,\"decode_rows\":%llu,\"padded_rows\":%llu,\"preemptions\":%llu,"
               "\"cow_copies\":%llu,\"cascade\":%s,\"share\":%s",
            (unsigned long long)s->steps, (unsigned long long)s->prefill_rows, (unsigned long long)s->decode_rows,
            (unsigned long long)s->padded_rows, (unsigned long long)s->preemptions, (unsigned long long)s->cow_copies,
            ro_cascade_on(r->E) ? "true" : "false", r->o->rc.share ? "true" : "false");
    fprintf(f, ",\"seconds\":%.3f,\"engine_seconds\":%.3f,\"engine_split\":{\"plan\":%.3f,\"prefill\":%.3f,"
               "\"decode_host\":%.3f,\"decode_wait\":%.3f,\"post\":%.3f},\"tok_per_s\":%.1f,\"flops\":%.6g,\"counters\":",
            el, s->seconds, s->sec_plan, s->sec_prefill, s->sec_decode_host, s->sec_decode_wait, s->sec_post,
            el > 0 ? s->generated / el : 0.0, flops);
    kb_counts_json(r->ctx, f);
    fprintf(f, "}\n");
    fclose(f);
    int rc = write_file_atomic(r->stats_path, buf, len, e);
    free(buf);
    return rc;
}

// Reads the next problem into r->held (when there is one now, or waits when `wait`).
// Returns 1 if a problem is held, 0 if none now, 2 at the end of the input, -1 on error.
static int read_problem(run *r, held *h, int wait, berr *e) {
    for (;;) {
        const uint8_t *rec;
        size_t len;
        stream_pos pos;
        int rc = stream_next(r->in, wait, &rec, &len, &pos, e);
        if (rc < 0) return berr_wrap(e, "reading problems from %s", r->o->problems);
        if (rc == STREAM_END) return 2;
        if (rc == STREAM_EMPTY) return 0;
        problem_rec p;
        if (problem_decode(rec, len, pos.schema, &p, e)) return stream_refused(r->o->problems, &pos, e);
        r->problems_read++;
        ro_entry *x = ledger_read(&r->L, pos.shard, pos.record, p.id, stream_cursor(r->in, 0));
        if (!x) {  // written by an earlier run
            problem_free(&p);
            continue;
        }
        uint32_t *ids = NULL;
        size_t n = bpe_encode(r->tok, p.prompt, strlen(p.prompt), &ids);
        int total = r->n_instr + (int)n;
        if (total >= ro_max_len(r->E) || n == 0) {
            const char *why = n == 0 ? "the prompt is empty" : "the prompt leaves no room to generate";
            if (n == 0 || !r->o->skip_long) {
                berr_set(e, "%s/%s record %llu: problem %llu: %s: %d tokens (instruction %d + problem %zu) in the model's "
                            "context of %d tokens%s",
                         r->o->problems, pos.shard, (unsigned long long)pos.record, (unsigned long long)p.id, why, total,
                         r->n_instr, n, ro_max_len(r->E),
                         n ? "; use a policy with a longer context, a shorter --instruction, or --skip-long-prompts" : "");
                free(ids);
                problem_free(&p);
                return -1;
            }
            fprintf(stderr, "rollout: skipped %s/%s record %llu: problem %llu: its prompt is %d tokens, the context %d\n",
                    r->o->problems, pos.shard, (unsigned long long)pos.record, (unsigned long long)p.id, total,
                    ro_max_len(r->E));
            r->skipped_long++;
            x->done = 1;
            free(ids);
            problem_free(&p);
            continue;
        }
        h->tok = xrealloc(h->tok, (size_t)total * sizeof *h->tok);
        memcpy(h->tok, r->instr, (size_t)r->n_instr * sizeof *h->tok);
        for (size_t i = 0; i < n; i++) h->tok[r->n_instr + i] = (int32_t)ids[i];
        h->n = total;
        h->id = p.id;
        h->answer_line = p.task != TASK_CODE;
        h->entry = x;
        h->have = 1;
        free(ids);
        problem_free(&p);
        return 1;
    }
}

static int setup(run *r, berr *e) {
    opts *o = r->o;
    r->t_start = now_sec();
    r->producer = o->parts > 1 ? xasprintf("%s.p%dof%d", o->name, o->part, o->parts) : xstrdup(o->name);
    if (!shard_producer_name_ok(r->producer))
        return berr_set(e, "--name: '%s' is not a producer name (1-48 characters of A-Z a-z 0-9 . _ -)", r->producer);
    r->stats_path = o->stats ? xstrdup(o->stats) : xasprintf("%s/%s.stats.json", o->out, r->producer);
    // tokenizer and the task format's tokens
    r->tok = bpe_load(o->tokenizer, e);
    if (!r->tok) return -1;
    int32_t eot = bpe_special(r->tok, BERRY_EOT), step = bpe_special(r->tok, BERRY_STEP),
            ans = bpe_special(r->tok, BERRY_ANSWER);
    if (eot < 0 || step < 0 || ans < 0)
        return berr_set(e, "tokenizer %s lacks the task format's special tokens (%s %s %s: ids %d %d %d)", o->tokenizer,
                        BERRY_EOT, BERRY_STEP, BERRY_ANSWER, eot, step, ans);
    int V = bpe_vocab_size(r->tok);
    r->newline = xcalloc((size_t)V, 1);
    for (int i = 0; i < V; i++) {
        size_t len;
        const char *b = bpe_token_bytes(r->tok, (uint32_t)i, &len);
        r->newline[i] = b && memchr(b, '\n', len) != NULL;
    }
    o->rc.eot = eot, o->rc.step = step, o->rc.answer = ans, o->rc.newline = r->newline;
    if (o->instruction) {
        char *text;
        size_t len;
        if (read_file(o->instruction, &text, &len, e)) return berr_wrap(e, "--instruction");
        uint32_t *ids;
        size_t n = bpe_encode(r->tok, text, len, &ids);
        r->instr = xmalloc((n ? n : 1) * sizeof *r->instr);
        for (size_t i = 0; i < n; i++) r->instr[i] = (int32_t)ids[i];
        r->n_instr = (int)n;
        free(ids);
        free(text);
    }
    // policy
    kb_backend be = o->backend == 1 ? KB_CPU : o->backend == 2 ? KB_CUDA : kb_default_backend();
    r->ctx = kb_open(be, 0, e);
    if (!r->ctx) return -1;
    kb_set_stage(r->ctx, "rollout");
    if (o->policy) {
        int64_t v = o->policy_version >= 0 ? o->policy_version : policy_version_of_name(o->policy);
        if (load_policy(r, o->policy, v < 0 ? 0 : (uint32_t)v, e)) return -1;
    } else {
        char *path = NULL;
        uint32_t v;
        int got;
        int said = 0;
        while ((got = policy_newest(o->follow, &path, &v, e)) == 0) {
            if (!said) fprintf(stderr, "rollout: waiting for a policy-v<N>.bin in %s\n", o->follow), said = 1;
            usleep((useconds_t)(o->follow_poll * 1e6));
        }
        if (got < 0) return -1;
        int rc = load_policy(r, path, v, e);
        free(path);
        if (rc) return -1;
    }
    size_t kv = o->kv_bytes ? o->kv_bytes : kb_backend_of(r->ctx) == KB_CUDA ? (size_t)16 << 30 : (size_t)1 << 30;
    r->E = ro_engine_new(&r->m, kv, &o->rc, e);
    if (!r->E) return -1;
    if (ro_set_version(r->E, r->version, e)) return -1;
    // input and output
    char *tok_bytes;
    size_t tok_len;
    if (read_file(o->tokenizer, &tok_bytes, &tok_len, e)) return -1;
    ledger_init(&r->L, config_hash(r, tok_bytes, tok_len));
    free(tok_bytes);
    shard_dir_opts dopt = {0};
    dopt.producers = (uint32_t)o->parts;
    r->out = shard_dir_writer_open(o->out, r->producer, SHARD_TRAJECTORIES, TRAJ_SCHEMA, &dopt, e);
    if (!r->out) return -1;
    stream_opts so = {0};
    so.part = (uint32_t)o->part;
    so.parts = (uint32_t)o->parts;
    so.expect_kind = SHARD_PROBLEMS;
    so.idle_timeout = o->idle_timeout;
    r->in = stream_open(o->problems, &so, e);
    if (!r->in) return -1;
    const char *last = shard_dir_last_name(r->out);
    if (last && *last) {
        char *path = xasprintf("%s/%s", o->out, last);
        shard_reader *sr = shard_open(path, e);
        if (!sr) {
            free(path);
            return -1;
        }
        size_t ml;
        const uint8_t *meta = shard_get_meta(sr, &ml);
        int rc = meta ? ledger_restore(&r->L, meta, ml, path, e)
                      : berr_set(e, "%s carries no commit record: was it written by another program than rollout?", path);
        shard_close(sr);
        free(path);
        if (rc) return -1;
        if (r->L.base_cursor && stream_set_cursor(r->in, r->L.base_cursor, strlen(r->L.base_cursor), NULL, e))
            return berr_wrap(e, "restoring the input cursor of %s/%s", o->out, last);
        fprintf(stderr, "rollout: resuming %s after %llu problems written (%zu more done beyond the cursor)\n",
                r->producer, (unsigned long long)r->L.problems, r->L.nskip);        r->pace_base = r->L.problems - r->L.nskip;  // problems before the restored cursor
    }
    // config echo
    const ro_config *c = ro_config_of(r->E);
    fprintf(stderr,
            "rollout: config: producer %s (part %d of %d), problems %s, out %s, tokenizer %s (V=%d), instruction %d tokens\n"
            "rollout: config: roots %d, fork %d, depth %d, budget %lld, max-new %d, force-step %d, temperature %g, "
            "top-k %d, top-p %g, seed %llu\n"
            "rollout: config: backend %s (%s, %d threads), KV %.1f MiB = %d blocks of %d positions, max-batch %d, "
            "prefill-tokens %d, share %s, cascade %s, buckets",
            r->producer, o->part, o->parts, o->problems, o->out, o->tokenizer, V, r->n_instr, c->roots, c->fork, c->depth,
            (long long)c->budget, c->max_new, c->force_step, c->temperature, c->top_k, c->top_p,
            (unsigned long long)c->seed, kb_backend_name(r->ctx), kb_device_name(r->ctx), omp_get_max_threads(),
            kv / 1048576.0, ro_stats_of(r->E)->blocks_total, c->block_size, c->max_batch, c->prefill_tokens,
            c->share ? "on" : "off", ro_cascade_on(r->E) ? "on" : "off");
    for (int i = 0; i < c->nbuckets; i++) fprintf(stderr, "%s%d", i ? "," : " ", c->buckets[i]);
    fprintf(stderr, ", stats %s\n", r->stats_path);
    return 0;
}

// Follows the checkpoint directory: returns 1 when a newer version than the running one is there.
static int newer_policy(run *r, char **path, uint32_t *v, berr *e) {
    if (!r->o->follow) return 0;
    double t = now_sec();
    if (t < r->t_poll) return 0;
    r->t_poll = t + r->o->follow_poll;
    int got = policy_newest(r->o->follow, path, v, e);
    if (got < 0) return -1;
    if (got && *v > r->version) return 1;
    if (got) free(*path);
    *path = NULL;
    return 0;
}

// --pace N,K: the held problem is the p-th of the stream; it may start with version v only if
// v >= p / N - K.
static int paced_out(const run *r) {
    if (!r->o->pace_n) return 0;
    uint64_t p = r->pace_base + r->problems_read - 1;
    return (int64_t)r->version < (int64_t)(p / (uint64_t)r->o->pace_n) - r->o->pace_ahead;
}

static int main_loop(run *r, berr *e) {
    held h = {0};
    int input_end = 0, rc = 0;
    char *next_path = NULL;
    uint32_t next_version = 0;
    ro_engine *E = r->E;
    int gated = 0;
    kb_set_stage(r->ctx, "rollout");
    r->t_commit = r->t_progress = now_sec();
    while (!rc) {
        // A new policy: stop starting problems; switch once the running ones are done.
        if (!next_path) {
            int got = newer_policy(r, &next_path, &next_version, e);
            if (got < 0) return -1;
            if (got) fprintf(stderr, "rollout: policy version %u is out; finishing %d running problems first\n", next_version,
                             ro_running(E));
        }
        if (next_path && !ro_busy(E)) {
            if (r->trees_pending && commit(r, e)) return -1;
            if (load_policy(r, next_path, next_version, e) || ro_set_version(E, next_version, e)) return -1;
            free(next_path);
            next_path = NULL;
        }
        // Feed the engine while it wants more.
        while (!next_path && !input_end && ro_wants(E)) {
            if (!h.have) {
                int idle = !ro_busy(E);
                if (idle && r->trees_pending && commit(r, e)) return -1;  // publish before waiting
                int got = read_problem(r, &h, idle, e);
                if (got < 0) return -1;
                if (got == 2) input_end = 1;
                if (got != 1) break;
                if (idle && r->o->follow) {  // it may have waited long: look for a new policy first
                    r->t_poll = 0;
                    break;
                }
            }
            if (paced_out(r)) {  // too far ahead of the trainer: wait for a newer version
                gated = 1;
                break;
            }
            if (ro_add(E, h.id, h.tok, h.n, h.answer_line, h.entry, e)) return -1;
            h.have = 0;
        }
        if (!ro_busy(E)) {
            if (input_end && !next_path && !h.have) break;
            if (gated && !next_path) {
                usleep((useconds_t)(r->o->follow_poll * 1e6));
                r->t_poll = 0;
            }
            gated = 0;
            continue;
        }
        gated = 0;
        ro_step(E);
        ro_result res;
        while (ro_take(E, &res)) {
            if (!rc) rc = write_tree(r, &res, e);
            ro_result_free(&res);
        }
        double t = now_sec();
        if (!rc && r->trees_pending &&
            (r->trees_pending >= (uint64_t)r->o->commit_records || t - r->t_commit >= r->o->commit_seconds))
            rc = commit(r, e);
        if (t - r->t_progress >= r->o->progress) {
            progress_line(r, "progress:");
            r->t_progress = t;
        }
    }
    free(h.tok);
    free(next_path);
    if (rc) return rc;
    // Input drained: the final commit (it also covers problems skipped with a message).
    if ((r->trees_pending || r->L.n) && commit(r, e)) return -1;
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    berr e;
    if (parse_opts(argc, argv, &o, &e)) {
        fprintf(stderr, "rollout: %s\n", e.msg);
        return 2;
    }
    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    int rc = setup(&r, &e);
    if (!rc && shard_dir_writer_is_closed(r.out)) {
        fprintf(stderr, "rollout: producer %s already finished %s in an earlier run; nothing to do\n", r.producer, o.out);
        rc = shard_dir_close(r.out, &e);
        r.out = NULL;
        if (!rc) return 0;
    }
    if (!rc) rc = main_loop(&r, &e);
    if (!rc && r.L.problems == 0 && r.problems_read == 0 && r.skipped_long == 0) {
        if (o.parts == 1) {
            rc = berr_set(&e, "no problems: %s is closed and its shards hold no problem records", o.problems);
        } else {
            fprintf(stderr, "rollout: part %d of %d of %s received no problems\n", o.part, o.parts, o.problems);
        }
    }
    if (!rc) {
        rc = shard_dir_close(r.out, &e);
        r.out = NULL;
    }
    if (r.E) {
        progress_line(&r, rc ? "stopped:" : "done:");
        berr e2;
        if (write_stats(&r, &e2)) fprintf(stderr, "rollout: %s\n", e2.msg);
    }
    if (rc) fprintf(stderr, "rollout: %s\n", e.msg);
    if (r.out) shard_dir_abort(r.out);
    if (r.in) stream_close(r.in);
    ro_engine_free(r.E);
    if (r.m.ctx) gpt2_free(&r.m);
    ledger_free(&r.L);
    if (r.tok) bpe_free(r.tok);
    free(r.newline), free(r.instr), free(r.producer), free(r.stats_path), free(r.policy_path), free(r.rec.p);
    kb_close(r.ctx);
    return rc ? 1 : 0;
}
