// cli_main.c — build/bin/rollout: reads problem shards as a streaming consumer, samples a
// trajectory tree per problem with the policy, writes trajectory shards exactly once across
// restarts, and can follow a checkpoint directory for new policy versions.
// Usage and design: rollout/README.md.
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gpt2.h"
#include "kernels/train/cli.h"
#include "rollout/cli.h"
#include "rollout/engine.h"
#include "rollout/sizing.h"
#include "shards/records.h"
#include "shards/stream.h"
#include "shards/tokenizer.h"
#include "shards/task_format.h"

typedef struct opts {
    char *policy, *follow, *tokenizer, *problems, *out, *name, *instruction, *stats, *buckets;
    int64_t policy_version;  // -1: from the file name (policy-v<N>.bin), else 0
    double follow_poll, progress, commit_seconds, idle_timeout, temperature, top_p;
    char *pace;                  // --pace N,K (NULL: off)
    int64_t pace_n, pace_ahead;  // ... parsed
    int part, parts, commit_records, skip_long, backend, no_share, cascade;  // backend: 0 auto, 1 cpu, 2 cuda
    int roots, fork, depth, max_new, force_step, top_k, block_size, max_batch, prefill_tokens, prefill_pad;
    int64_t budget, seed, kv_bytes;  // kv_bytes 0: the backend's default
    ro_config rc;
} opts;

static const char *const backends[] = {"auto", "cpu", "cuda", NULL};
static const char *const cascades[] = {"auto", "on", "off", NULL};

#define F(x) offsetof(opts, x)
#define SECTION(title) {CLI_SECTION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, title}
static const cli_opt opt_list[] = {
    SECTION("Policy and data"),
    {CLI_STR, "policy", F(policy), NULL, 0, 0, NULL, 0, "FILE", "policy checkpoint"},
    {CLI_COUNT, "policy-version", F(policy_version), NULL, 0, 4294967295.0, NULL, 0, "N",
     "its version (default: N of a file named policy-v<N>.bin, else 0)"},
    {CLI_STR, "follow", F(follow), NULL, 0, 0, NULL, 0, "DIR",
     "use the newest DIR/policy-v<N>.bin and pick up each newer one as it is published (problems started after "
     "that use it; running ones finish first)"},
    {CLI_F64, "follow-poll", F(follow_poll), "1", 0.001, 3600, NULL, 0, "SEC", "how often to look for a new version"},
    {CLI_STR, "pace", F(pace), NULL, 0, 0, NULL, 0, "N,K",
     "with --follow: start the p-th problem (stream order) only with a policy version >= p/N - K, so a trainer "
     "taking N trees a version is never more than K versions behind (the RL loop's pooled placement)"},
    {CLI_STR, "tokenizer", F(tokenizer), NULL, 0, 0, NULL, 0, "FILE",
     "berry tokenizer file (its vocabulary must be the checkpoint's)"},
    {CLI_STR, "problems", F(problems), NULL, 0, 0, NULL, 0, "DIR",
     "problem shard directory (streamed: shards are taken as they appear; it must exist)"},
    {CLI_STR, "out", F(out), NULL, 0, 0, NULL, 0, "DIR", "trajectory shard directory"},
    {CLI_STR, "name", F(name), "rollout", 0, 0, NULL, 0, "NAME", "producer name in DIR (rollout.p<K>of<N> with --parts)"},
    {CLI_INT, "part", F(part), "0", 0, 65535, NULL, 0, "K", "this process takes part K of --parts N of the input shards"},
    {CLI_INT, "parts", F(parts), "1", 1, 65536, NULL, 0, "N", "how many processes share the input"},
    {CLI_STR, "instruction", F(instruction), NULL, 0, 0, NULL, 0, "FILE",
     "text put before every prompt (a shared instruction: its KV is stored once)"},
    {CLI_FLAG, "skip-long-prompts", F(skip_long), NULL, 0, 0, NULL, 0, NULL,
     "report and skip a prompt that leaves no room in the context (default: fail)"},
    {CLI_F64, "idle-timeout", F(idle_timeout), "0", 0, 1e9, NULL, 0, "SEC", "fail after SEC without new input (0: wait for ever)"},
    SECTION("Branching"),
    {CLI_INT, "roots", F(roots), "4", 1, 4096, NULL, 0, "N", "trajectories started per problem"},
    {CLI_INT, "fork", F(fork), "2", 1, 64, NULL, 0, "K", "children per node at a step boundary"},
    {CLI_INT, "depth", F(depth), "2", 0, 64, NULL, 0, "D", "forks along one trajectory at most (0: no branching)"},
    {CLI_COUNT, "budget", F(budget), "0", 0, 4e18, NULL, 0, "N", "tokens generated per problem at most, all nodes together (0: no limit)"},
    {CLI_INT, "max-new", F(max_new), "256", 1, 1 << 24, NULL, 0, "N", "tokens generated per trajectory, root to leaf"},
    {CLI_INT, "force-step", F(force_step), "0", 0, 1 << 24, NULL, 0, "N",
     "also treat every N-th token of a node as a step marker (tests, benchmarks)"},
    SECTION("Sampling"),
    {CLI_F64, "temperature", F(temperature), "1", 0, 100, NULL, 0, "X", "sampling temperature (0: greedy)"},
    {CLI_INT, "top-k", F(top_k), "0", 0, 1 << 24, NULL, 0, "K", "sample among the K likeliest tokens (0: all)"},
    {CLI_F64, "top-p", F(top_p), "1", 1e-6, 1, NULL, 0, "P", "nucleus sampling (1: all)"},
    {CLI_COUNT, "seed", F(seed), "1", 0, 1e18, NULL, 0, "N", "run seed; node seeds derive from it and the problem id"},
    SECTION("Engine"),
    {CLI_CHOICE, "backend", F(backend), "auto", 0, 0, backends, 0, "B", "auto, cpu or cuda"},
    {CLI_BYTES, "kv-budget", F(kv_bytes), NULL, 0, 1125899906842624.0, NULL, 0, "BYTES",
     "KV cache size, e.g. 512M, 16G (default: chosen from the device's memory and the model, see the config echo)"},
    {CLI_INT, "block-size", F(block_size), "16", 1, 256, NULL, 0, "N", "positions per KV block"},
    {CLI_INT, "max-batch", F(max_batch), "0", 0, 65536, NULL, 0, "N",
     "sequences per decode step (0: chosen from the backend, the device's memory and the model)"},
    {CLI_INT, "prefill-tokens", F(prefill_tokens), "512", 1, 65536, NULL, 0, "N", "prompt tokens per prefill step"},
    {CLI_INT, "prefill-pad", F(prefill_pad), "0", 0, 4096, NULL, 0, "N",
     "pad prefill calls to a multiple of N rows, so few matmul shapes occur (0: 64 on CUDA, 1 on the CPU)"},
    {CLI_STR, "buckets", F(buckets), NULL, 0, 0, NULL, 0, "LIST",
     "decode batch sizes captured as graphs, e.g. 8,16,32,64 (default: powers of 2 up to --max-batch, on CUDA also "
     "the 3/2 steps above 64)"},
    {CLI_FLAG, "no-share", F(no_share), NULL, 0, 0, NULL, 0, NULL, "compute every node from scratch: no prefix tree, no shared blocks"},
    {CLI_CHOICE, "cascade", F(cascade), "auto", 0, 0, cascades, 0, "MODE", "shared-prompt attention: auto, on or off"},
    SECTION("Output"),
    {CLI_INT, "commit-records", F(commit_records), "64", 1, 1 << 24, NULL, 0, "N", "publish an output shard after N trees"},
    {CLI_F64, "commit-seconds", F(commit_seconds), "10", 0.001, 1e6, NULL, 0, "SEC", "... or after SEC with trees pending"},
    {CLI_F64, "progress", F(progress), "10", 0.001, 1e6, NULL, 0, "SEC", "progress line interval"},
    {CLI_STR, "stats", F(stats), NULL, 0, 0, NULL, 0, "FILE", "run statistics as JSON (default OUT/<producer>.stats.json)"},
};
#undef F
#undef SECTION
static const cli_table table = CLI_TABLE(opt_list);

static const cli_cmd cmd = {
    "rollout",
    "usage: rollout (--policy FILE | --follow DIR) --tokenizer FILE --problems DIR --out DIR [options]\n"
    "\n"
    "Samples a Monte-Carlo trajectory tree for every problem of a problem shard directory and writes\n"
    "them as trajectory shards (rollout/README.md).\n",
    &table, 0, NULL};

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

// Parses the command line; returns CLI_GO, or the exit status (help printed, or a usage error).
static int parse_opts(int argc, char **argv, opts *o) {
    berr e;
    unsigned char given[sizeof opt_list / sizeof opt_list[0]] = {0};
    memset(o, 0, sizeof *o);
    int rc = cli_command(&cmd, o, argc, argv, 1, given, NULL);
    if (rc != CLI_GO) return rc;
    if (!cli_given(&table, given, "policy-version")) o->policy_version = -1;
    ro_config *c = &o->rc;
    ro_config_default(c);
    c->roots = o->roots, c->fork = o->fork, c->depth = o->depth, c->budget = o->budget, c->max_new = o->max_new;
    c->force_step = o->force_step, c->temperature = (float)o->temperature, c->top_k = o->top_k;
    c->top_p = (float)o->top_p, c->seed = (uint64_t)o->seed, c->block_size = o->block_size;
    c->max_batch = o->max_batch, c->prefill_tokens = o->prefill_tokens, c->prefill_pad = o->prefill_pad;
    c->share = !o->no_share;
    c->cascade = o->cascade == 0 ? -1 : o->cascade == 1 ? 1 : 0;
    if (o->buckets && parse_buckets(o->buckets, c, &e)) return cli_usage_error(&cmd, "%s", e.msg);
    if (cli_given(&table, given, "kv-budget") && o->kv_bytes == 0)
        return cli_usage_error(&cmd, "--kv-budget 0: the KV cache needs room for at least one sequence; give a size "
                                     "such as 512M or 16G, or leave the option out for the backend's default");
    if (!o->policy == !o->follow) return cli_usage_error(&cmd, "give exactly one of --policy FILE and --follow DIR");
    if (!o->tokenizer || !o->problems || !o->out)
        return cli_usage_error(&cmd, "--tokenizer, --problems and --out are required");
    if (o->part >= o->parts) return cli_usage_error(&cmd, "--part %d must be below --parts %d", o->part, o->parts);
    if (o->follow && o->policy_version >= 0) return cli_usage_error(&cmd, "--policy-version goes with --policy, not --follow");
    if (o->pace) {
        const char *comma = strchr(o->pace, ',');
        char nbuf[32];
        berr pe;
        if (!comma || (size_t)(comma - o->pace) >= sizeof nbuf)
            return cli_usage_error(&cmd, "--pace wants N,K (problems a policy version, versions ahead), got '%s'", o->pace);
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)(comma - o->pace), o->pace);
        if (parse_i64("--pace N", nbuf, 1, INT32_MAX, &o->pace_n, &pe) ||
            parse_i64("--pace K", comma + 1, 0, INT32_MAX, &o->pace_ahead, &pe))
            return cli_usage_error(&cmd, "%s", pe.msg);
        if (!o->follow) return cli_usage_error(&cmd, "--pace goes with --follow (it waits for newer policy versions)");
    }
    if (!shard_producer_name_ok(o->name))
        return cli_usage_error(&cmd, "--name: '%s' is not a producer name (1-48 characters of A-Z a-z 0-9 . _ -, not starting with . or -)", o->name);
    return CLI_GO;
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
    ro_sizing sz;  // the engine sizes: given, or chosen from the device and the model
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
    fprintf(f, ",\"sizing\":{\"max_batch\":%d,\"max_batch_chosen\":%s,\"kv_budget\":%zu,\"kv_budget_chosen\":%s,"
               "\"buckets_chosen\":%s,\"memory_budget\":%zu,\"seq_kv_bytes\":%zu,\"why\":",
            r->sz.max_batch, r->sz.auto_batch ? "true" : "false", r->sz.kv_bytes, r->sz.auto_kv ? "true" : "false",
            r->sz.auto_buckets ? "true" : "false", r->sz.budget, r->sz.seq_bytes);
    json_string(f, r->sz.why, strlen(r->sz.why));
    fprintf(f, ",\"buckets\":[");
    for (int i = 0; i < r->sz.nbuckets; i++) fprintf(f, "%s%d", i ? "," : "", r->sz.buckets[i]);
    fprintf(f, "]}");
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
    // Inputs that do not exist and outputs that cannot be written fail now, before any work
    // (a streaming input that does not exist would otherwise be waited for, for ever).
    if (cli_check_input_dir("--problems", o->problems, e)) return -1;
    if (o->follow && cli_check_input_dir("--follow", o->follow, e)) return -1;
    if (cli_check_output_dir("--out", o->out, e)) return -1;
    if (o->stats && cli_check_output_file("--stats", o->stats, e)) return -1;
    // tokenizer and the task format's tokens
    r->tok = bpe_load(o->tokenizer, e);
    if (!r->tok) return berr_wrap(e, "--tokenizer");
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
    // Sizes not given are chosen now, with the weights in memory (rollout/sizing.h).
    ro_sizing_in si = {.cuda = kb_backend_of(r->ctx) == KB_CUDA, .L = r->cfg.L, .C = r->cfg.C, .NH = r->cfg.NH,
                       .maxT = r->cfg.maxT, .Vp = r->cfg.Vp, .act_size = kb_act_size(r->ctx),
                       .block_size = o->rc.block_size, .prefill_tokens = o->rc.prefill_tokens,
                       .prefill_pad = o->rc.prefill_pad, .max_batch = o->rc.max_batch, .kv_bytes = (size_t)o->kv_bytes,
                       .nbuckets = o->rc.nbuckets, .buckets = o->rc.buckets};
    kb_device_resources(r->ctx, &si.res);
    if (ro_choose_sizes(&si, &r->sz, e)) return -1;
    o->rc.max_batch = r->sz.max_batch;
    o->rc.nbuckets = r->sz.nbuckets;
    memcpy(o->rc.buckets, r->sz.buckets, sizeof o->rc.buckets);
    size_t kv = r->sz.kv_bytes;
    r->E = ro_engine_new(&r->m, kv, &o->rc, e);
    if (!r->E) return -1;
    if (ro_set_version(r->E, r->version, e)) return -1;
    // input and output
    char *tok_bytes;
    size_t tok_len;
    if (read_file(o->tokenizer, &tok_bytes, &tok_len, e)) return -1;
    ledger_init(&r->L, config_hash(r, tok_bytes, tok_len));
    free(tok_bytes);
    stream_opts so = {0};
    so.part = (uint32_t)o->part;
    so.parts = (uint32_t)o->parts;
    so.expect_kind = SHARD_PROBLEMS;
    so.idle_timeout = o->idle_timeout;
    r->in = stream_open(o->problems, &so, e);
    if (!r->in) return -1;
    shard_dir_opts dopt = {0};
    dopt.producers = (uint32_t)o->parts;
    r->out = shard_dir_writer_open(o->out, r->producer, SHARD_TRAJECTORIES, TRAJ_SCHEMA, &dopt, e);
    if (!r->out) return -1;
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
    if (cli_quiet) return 0;
    const ro_config *c = ro_config_of(r->E);
    char device[256];
    const char *bn = kb_backend_name(r->ctx), *dn = kb_device_name(r->ctx);
    if (!strncmp(dn, bn, strlen(bn))) snprintf(device, sizeof device, "%s", dn);  // "cpu (2 threads)"
    else snprintf(device, sizeof device, "%s (%s)", bn, dn);
    fprintf(stderr,
            "rollout: config: producer %s (part %d of %d), problems %s, out %s, tokenizer %s (V=%d), instruction %d tokens\n"
            "rollout: config: roots %d, fork %d, depth %d, budget %lld, max-new %d, force-step %d, temperature %g, "
            "top-k %d, top-p %g, seed %llu\n"
            "rollout: config: backend %s, KV %.1f MiB = %d blocks of %d positions, max-batch %d, "
            "prefill-tokens %d, share %s, cascade %s, buckets",
            r->producer, o->part, o->parts, o->problems, o->out, o->tokenizer, V, r->n_instr, c->roots, c->fork, c->depth,
            (long long)c->budget, c->max_new, c->force_step, c->temperature, c->top_k, c->top_p,
            (unsigned long long)c->seed, device, kv / 1048576.0, ro_stats_of(r->E)->blocks_total, c->block_size, c->max_batch, c->prefill_tokens,
            c->share ? "on" : "off", ro_cascade_on(r->E) ? "on" : "off");
    for (int i = 0; i < c->nbuckets; i++) fprintf(stderr, "%s%d", i ? "," : " ", c->buckets[i]);
    fprintf(stderr, ", stats %s\n", r->stats_path);
    fprintf(stderr, "rollout: config: sizes: %s\n", r->sz.why);
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
            if (!cli_quiet) progress_line(r, "progress:");
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
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_GO) return rc;
    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    rc = setup(&r, &e);
    if (!rc && shard_dir_writer_is_closed(r.out)) {
        fprintf(stderr, "rollout: producer %s already finished %s in an earlier run; nothing to do\n", r.producer, o.out);
        rc = shard_dir_close(r.out, &e);
        r.out = NULL;
        if (!rc) return 0;
    }
    int opened = r.out != NULL;  // (a run refused before it opened --out writes nothing there)
    if (!rc) rc = main_loop(&r, &e);
    if (!rc && r.L.problems == 0 && r.problems_read == 0 && r.skipped_long == 0) {
        if (o.parts == 1) {
            rc = berr_set(&e, "no problems: %s is closed and its shards hold no problem records", o.problems);
        } else {
            fprintf(stderr, "rollout: part %d of %d of %s received no problems\n", o.part, o.parts, o.problems);
        }
    }
    uint64_t published = r.out ? shard_dir_published(r.out) : 0;
    if (!rc) {
        rc = shard_dir_close(r.out, &e);
        r.out = NULL;
    }
    if (rc) cli_fail(cmd.name, &e);
    if (r.E && opened) progress_line(&r, rc ? "stopped:" : "done:");
    // Statistics of a run that did something; a failed run that published nothing leaves no
    // trace in --out (shard_dir_abort removes what it made).
    if (r.E && opened && (!rc || published)) {
        berr e2;
        if (write_stats(&r, &e2)) cli_fail(cmd.name, &e2);
    }
    if (r.out) shard_dir_abort(r.out);
    if (r.in) stream_close(r.in);
    ro_engine_free(r.E);
    if (r.m.ctx) gpt2_free(&r.m);
    ledger_free(&r.L);
    if (r.tok) bpe_free(r.tok);
    free(r.newline), free(r.instr), free(r.producer), free(r.stats_path), free(r.policy_path), free(r.rec.p);
    kb_close(r.ctx);
    cli_free(&table, &o);
    return rc ? 1 : 0;
}
