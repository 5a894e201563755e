// tasks_stream.c — options, single problems and deterministic problem streams; see tasks.h.
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "verify/tasks.h"
#include "verify/tasks_build.h"
#include "verify/tasks_gen.h"

#define MAX_REJECTS 100000

static const char *const KIND_NAMES[] = {NULL, "arith", "linear", "algebra", "code"};

// ---- options ------------------------------------------------------------------------------------

void tasks_opts_default(tasks_opts *o) {
    memset(o, 0, sizeof *o);
    o->kinds = TASKS_ALL_KINDS;
    o->min_difficulty = 1;
    o->max_difficulty = TASKS_MAX_DIFFICULTY;
    o->split = SPLIT_TRAIN;
    o->heldout_pct = 10;
    o->seed = 1;
    o->count = 1000;
    o->shard_records = 10000;
    o->filler_pct = 10;
    o->progress = 1;
}

int tasks_parse_kinds(const char *s, uint32_t *kinds, berr *e) {
    uint32_t k = 0;
    const char *p = s;
    if (!s || !*s) return berr_set(e, "--kinds needs a list like arith,linear,algebra,code (or math, all), got an empty value");
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        uint32_t bit = 0;
        if (n == 3 && !memcmp(p, "all", 3)) bit = TASKS_ALL_KINDS;
        else if (n == 4 && !memcmp(p, "math", 4)) bit = TASKS_MATH_KINDS;
        else
            for (uint32_t i = TASK_ARITH; i <= TASK_CODE; i++)
                if (n == strlen(KIND_NAMES[i]) && !memcmp(p, KIND_NAMES[i], n)) bit = TASKS_KIND_BIT(i);
        if (!bit) return berr_set(e, "--kinds: unknown task kind '%.*s' in '%s' (known: arith, linear, algebra, code, math, all)", (int)n, p, s);
        k |= bit;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p) return berr_set(e, "--kinds: trailing ',' in '%s'", s);
        }
    }
    *kinds = k;
    return 0;
}

int tasks_opts_set(tasks_opts *o, const char *name, const char *value, berr *e) {
    int64_t v;
    if (!strcmp(name, "kinds")) return tasks_parse_kinds(value, &o->kinds, e);
    if (!strcmp(name, "difficulty")) {
        // "3" or "1-5"
        const char *dash = value ? strchr(value, '-') : NULL;
        char lo[32];
        int a, b;
        if (dash) {
            size_t n = (size_t)(dash - value);
            if (n == 0 || n >= sizeof lo) return berr_set(e, "--difficulty needs N or LO-HI in 1..%d, got '%s'", TASKS_MAX_DIFFICULTY, value);
            memcpy(lo, value, n);
            lo[n] = 0;
            if (parse_int("--difficulty", lo, 1, TASKS_MAX_DIFFICULTY, &a, e) ||
                parse_int("--difficulty", dash + 1, 1, TASKS_MAX_DIFFICULTY, &b, e))
                return -1;
            if (a > b) return berr_set(e, "--difficulty: range '%s' is empty (low end above high end)", value);
        } else {
            if (parse_int("--difficulty", value, 1, TASKS_MAX_DIFFICULTY, &a, e)) return -1;
            b = a;
        }
        o->min_difficulty = a;
        o->max_difficulty = b;
        return 0;
    }
    if (!strcmp(name, "split")) {
        if (value && !strcmp(value, "train")) o->split = SPLIT_TRAIN;
        else if (value && !strcmp(value, "heldout")) o->split = SPLIT_HELDOUT;
        else return berr_set(e, "--split must be train or heldout, got '%s'", value ? value : "");
        return 0;
    }
    if (!strcmp(name, "heldout-pct")) return parse_int("--heldout-pct", value, 1, 99, &o->heldout_pct, e);
    if (!strcmp(name, "seed")) {
        if (parse_i64("--seed", value, 0, INT64_MAX, &v, e)) return -1;
        o->seed = (uint64_t)v;
        return 0;
    }
    if (!strcmp(name, "count")) return parse_count("--count", value, 1, (int64_t)1 << 40, &o->count, e);
    if (!strcmp(name, "shard-records")) return parse_count("--shard-records", value, 1, (int64_t)1 << 32, &o->shard_records, e);
    if (!strcmp(name, "filler-pct")) return parse_int("--filler-pct", value, 0, 90, &o->filler_pct, e);
    return berr_set(e, "unknown task option '--%s'", name);
}

int tasks_opts_check(const tasks_opts *o, berr *e) {
    if (!o->kinds || (o->kinds & ~TASKS_ALL_KINDS)) return berr_set(e, "task options: no valid task kinds selected (kinds mask 0x%x)", o->kinds);
    if (o->min_difficulty < 1 || o->max_difficulty > TASKS_MAX_DIFFICULTY || o->min_difficulty > o->max_difficulty)
        return berr_set(e, "task options: difficulty %d-%d is not a range within 1-%d", o->min_difficulty, o->max_difficulty, TASKS_MAX_DIFFICULTY);
    if (o->split != SPLIT_TRAIN && o->split != SPLIT_HELDOUT) return berr_set(e, "task options: split %u is neither train nor heldout", o->split);
    if (o->heldout_pct < 1 || o->heldout_pct > 99) return berr_set(e, "task options: --heldout-pct %d is outside 1..99", o->heldout_pct);
    if (o->count < 1) return berr_set(e, "task options: --count %lld must be at least 1", (long long)o->count);
    if (o->shard_records < 1) return berr_set(e, "task options: --shard-records %lld must be at least 1", (long long)o->shard_records);
    if (o->filler_pct < 0 || o->filler_pct > 90) return berr_set(e, "task options: --filler-pct %d is outside 0..90", o->filler_pct);
    return 0;
}

void tasks_opts_usage(FILE *f) {
    fprintf(f,
            "  --kinds LIST         task kinds, comma-separated: arith,linear,algebra,code, or math / all (default all)\n"
            "  --difficulty D|A-B   difficulty 1..%d, or a range drawn uniformly (default 1-%d)\n"
            "  --split S            train or heldout (default train)\n"
            "  --heldout-pct P      percent of the problem space held out, 1..99 (default 10; use the same value for both splits)\n"
            "  --seed N             generator seed (default 1)\n"
            "  --count N            problems or documents to write, e.g. 5000 or 100K (default 1000)\n"
            "  --shard-records N    problems per shard before rolling to the next (default 10000)\n"
            "  --filler-pct P       corpus only: percent of plain-text filler documents, 0..90 (default 10)\n",
            TASKS_MAX_DIFFICULTY, TASKS_MAX_DIFFICULTY);
}

void tasks_opts_echo(FILE *f, const tasks_opts *o) {
    fprintf(f, "tasks: kinds=");
    int first = 1;
    for (uint32_t i = TASK_ARITH; i <= TASK_CODE; i++)
        if (o->kinds & TASKS_KIND_BIT(i)) {
            fprintf(f, "%s%s", first ? "" : ",", KIND_NAMES[i]);
            first = 0;
        }
    fprintf(f, " difficulty=%d-%d split=%s heldout_pct=%d seed=%" PRIu64 " count=%lld shard_records=%lld filler_pct=%d\n",
            o->min_difficulty, o->max_difficulty, o->split == SPLIT_HELDOUT ? "heldout" : "train", o->heldout_pct, o->seed,
            (long long)o->count, (long long)o->shard_records, o->filler_pct);
}

// ---- single problems ------------------------------------------------------------------------------

static int run_generator(tasks_build *b) {
    switch (b->task) {
    case TASK_ARITH: return tasks_gen_arith(b);
    case TASK_LINEAR: return tasks_gen_linear(b);
    case TASK_ALGEBRA: return tasks_gen_algebra(b);
    default: return tasks_gen_code(b);
    }
}

static int make_with(tasks_build *b, uint32_t kind, int difficulty, uint64_t draw_seed, int want_split, int heldout_pct, problem_rec *out) {
    if (kind < TASK_ARITH || kind > TASK_CODE) die("tasks_make: task kind %u is not one of 1..4", kind);
    if (difficulty < 1 || difficulty > TASKS_MAX_DIFFICULTY) die("tasks_make: difficulty %d is outside 1..%d", difficulty, TASKS_MAX_DIFFICULTY);
    tb_start(b, kind, difficulty, draw_seed, want_split, heldout_pct);
    if (!run_generator(b)) return 0;
    tb_emit(b, out);
    return 1;
}

int tasks_make(uint32_t kind, int difficulty, uint64_t draw_seed, int want_split, int heldout_pct, problem_rec *out) {
    tasks_build b;
    tb_init(&b);
    int rc = make_with(&b, kind, difficulty, draw_seed, want_split, heldout_pct, out);
    tb_free(&b);
    return rc;
}

// ---- streams ------------------------------------------------------------------------------------

int tasks_stream_init(tasks_stream *s, const tasks_opts *o, berr *e) {
    memset(s, 0, sizeof *s);
    if (tasks_opts_check(o, e)) return -1;
    s->o = *o;
    s->build = xmalloc(sizeof *s->build);
    tb_init(s->build);
    return 0;
}

int tasks_stream_next(tasks_stream *s, problem_rec *out, berr *e) {
    uint32_t kinds[4];
    int nk = 0;
    for (uint32_t i = TASK_ARITH; i <= TASK_CODE; i++)
        if (s->o.kinds & TASKS_KIND_BIT(i)) kinds[nk++] = i;
    for (int tries = 0; tries < MAX_REJECTS; tries++) {
        uint64_t r = mix64(s->o.seed, s->next_draw++);
        uint32_t kind = kinds[rng_next(&r) % (uint64_t)nk];
        int d = s->o.min_difficulty + (int)(rng_next(&r) % (uint64_t)(s->o.max_difficulty - s->o.min_difficulty + 1));
        uint64_t gen_seed = rng_next(&r);
        if (make_with(s->build, kind, d, gen_seed, (int)s->o.split, s->o.heldout_pct, out)) {
            s->produced++;
            return 0;
        }
    }
    return berr_set(e, "no %s problem found in %d draws in a row (kinds 0x%x, difficulty %d-%d, heldout %d%%): the selection has too few problems of that split",
                    s->o.split == SPLIT_HELDOUT ? "heldout" : "train", MAX_REJECTS, s->o.kinds, s->o.min_difficulty, s->o.max_difficulty,
                    s->o.heldout_pct);
}

void tasks_stream_free(tasks_stream *s) {
    if (s->build) {
        tb_free(s->build);
        free(s->build);
    }
    s->build = NULL;
}
