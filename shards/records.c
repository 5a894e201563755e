// records.c — encoding, validating decoding and JSON printing of the record kinds
// (layouts: shards/FORMAT.md, "Records").
#include "shards/records.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shards/shard.h"

// ---- names ----------------------------------------------------------------------------------------

const char *task_kind_name(uint32_t kind) {
    static const char *n[] = {NULL, "arith", "linear", "algebra", "code"};
    return kind >= 1 && kind <= TASK_KIND_MAX ? n[kind] : "unknown";
}
const char *task_split_name(uint32_t split) {
    return split == SPLIT_TRAIN ? "train" : split == SPLIT_HELDOUT ? "heldout" : "unknown";
}
const char *traj_finish_name(uint32_t finish) {
    static const char *n[] = {"branched", "answer", "eot", "maxlen", "budget"};
    return finish <= FINISH_BUDGET ? n[finish] : "unknown";
}
const char *outcome_name(uint32_t outcome) {
    static const char *n[] = {"pass", "fail", "timeout", "crash", "violation"};
    return outcome <= OUTCOME_VIOLATION ? n[outcome] : "unknown";
}

uint32_t record_schema_max(uint32_t kind) {
    switch (kind) {
    case SHARD_TOKENS: return TOKENS_SCHEMA;
    case SHARD_PROBLEMS: return PROBLEM_SCHEMA;
    case SHARD_TRAJECTORIES: return TRAJ_SCHEMA;
    case SHARD_VERDICTS: return VERDICT_SCHEMA;
    case SHARD_SCORES: return SCORE_SCHEMA;
    case SHARD_LABELS: return LABEL_SCHEMA;
    case SHARD_BYTES: return 1;
    default: return 0;
    }
}

// ---- a bounds-checked reader over one record --------------------------------------------------------

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    const char *kind;  // the record kind
    berr *e;
    char what[96];     // "<kind> record", then with the problem (and node) once read: for messages
} rd;

static void rd_init(rd *r, const uint8_t *rec, size_t len, const char *kind, berr *e) {
    r->p = rec, r->len = len, r->off = 0, r->kind = kind, r->e = e;
    snprintf(r->what, sizeof r->what, "%s record", kind);
}
// Names the problem (and the node, unless it is UINT32_MAX) in later messages.
static void rd_name(rd *r, uint64_t problem, uint32_t node) {
    if (node == UINT32_MAX) snprintf(r->what, sizeof r->what, "%s record of problem %llu", r->kind, (unsigned long long)problem);
    else snprintf(r->what, sizeof r->what, "%s record of problem %llu node %u", r->kind, (unsigned long long)problem, node);
}

static int rd_need(rd *r, const char *field, uint64_t n) {
    if (n > r->len - r->off)
        return berr_set(r->e, "%s: field %s needs %llu bytes at record byte offset %zu, only %zu remain", r->what,
                        field, (unsigned long long)n, r->off, r->len - r->off);
    return 0;
}
static int rd_u32(rd *r, const char *field, uint32_t *v) {
    if (rd_need(r, field, 4)) return -1;
    *v = le32(r->p + r->off);
    r->off += 4;
    return 0;
}
static int rd_u64(rd *r, const char *field, uint64_t *v) {
    if (rd_need(r, field, 8)) return -1;
    *v = le64(r->p + r->off);
    r->off += 8;
    return 0;
}
static float f32_at(const uint8_t *p) {
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static int rd_f32(rd *r, const char *field, float *v) {
    if (rd_need(r, field, 4)) return -1;
    *v = f32_at(r->p + r->off);
    r->off += 4;
    if (!isfinite(*v))
        return berr_set(r->e, "%s: field %s at record byte offset %zu is not a finite number", r->what, field,
                        r->off - 4);
    return 0;
}
// n little-endian u32 values into a fresh array (NULL when n == 0).
static int rd_u32s(rd *r, const char *field, uint32_t n, uint32_t **out) {
    *out = NULL;
    if (rd_need(r, field, (uint64_t)n * 4)) return -1;
    if (!n) return 0;
    uint32_t *v = xmalloc((size_t)n * 4);
    for (uint32_t i = 0; i < n; i++) v[i] = le32(r->p + r->off + (size_t)i * 4);
    r->off += (size_t)n * 4;
    *out = v;
    return 0;
}
static int rd_f32s(rd *r, const char *field, uint32_t n, float **out) {
    *out = NULL;
    if (rd_need(r, field, (uint64_t)n * 4)) return -1;
    if (!n) return 0;
    float *v = xmalloc((size_t)n * 4);
    *out = v;
    for (uint32_t i = 0; i < n; i++) {
        v[i] = f32_at(r->p + r->off);
        if (!isfinite(v[i]))
            return berr_set(r->e, "%s: field %s[%u] at record byte offset %zu is not a finite number", r->what,
                            field, i, r->off);
        r->off += 4;
    }
    return 0;
}
// A length-prefixed string without NUL bytes, returned NUL-terminated.
static int rd_str(rd *r, const char *field, char **out) {
    *out = NULL;
    uint32_t n;
    if (rd_u32(r, field, &n) || rd_need(r, field, n)) return -1;
    const uint8_t *s = r->p + r->off;
    const void *nul = memchr(s, 0, n);
    if (nul)
        return berr_set(r->e, "%s: field %s holds a NUL byte at record byte offset %zu", r->what, field,
                        r->off + (size_t)((const uint8_t *)nul - s));
    char *v = xmalloc((size_t)n + 1);
    memcpy(v, s, n);
    v[n] = 0;
    r->off += n;
    *out = v;
    return 0;
}
static int rd_end(rd *r) {
    if (r->off != r->len)
        return berr_set(r->e, "%s: %zu unexpected bytes after the last field at record byte offset %zu", r->what,
                        r->len - r->off, r->off);
    return 0;
}
static int check_schema(const char *what, uint32_t schema, uint32_t max, berr *e) {
    if (schema < 1 || schema > max)
        return berr_set(e, "%s record: schema version %u is not one this build reads (1..%u)", what, schema, max);
    return 0;
}

static void put_str(bbuf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > SHARD_RECORD_MAX) die("record string of %zu bytes exceeds the record size limit", n);
    bbuf_u32(b, (uint32_t)n);
    bbuf_put(b, s, n);
}

// ---- tokens ------------------------------------------------------------------------------------------
// u32 n, u8 width (2 or 4), 3 zero bytes, n ids of `width` bytes each.

void tokens_encode(bbuf *out, const uint32_t *ids, uint32_t n) {
    uint32_t width = 2;
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] > 0xffff) {
            width = 4;
            break;
        }
    bbuf_reserve(out, 8 + (size_t)n * width);
    bbuf_u32(out, n);
    bbuf_u32(out, width);
    uint8_t *p = out->p + out->n;
    if (width == 2)
        for (uint32_t i = 0; i < n; i++) {
            p[2 * i] = (uint8_t)ids[i];
            p[2 * i + 1] = (uint8_t)(ids[i] >> 8);
        }
    else
        for (uint32_t i = 0; i < n; i++) put_le32(p + 4 * i, ids[i]);
    out->n += (size_t)n * width;
}

int tokens_view_decode(const uint8_t *rec, size_t len, uint32_t schema, tokens_view *v, berr *e) {
    if (check_schema("tokens", schema, TOKENS_SCHEMA, e)) return -1;
    if (len < 8) return berr_set(e, "tokens record: %zu bytes, the header alone is 8", len);
    uint32_t n = le32(rec), width = le32(rec + 4);
    if (width != 2 && width != 4)
        return berr_set(e, "tokens record: id width %u at record byte offset 4 is not 2 or 4", width);
    if ((uint64_t)n * width != len - 8)
        return berr_set(e, "tokens record: %u ids of %u bytes need %llu bytes, the record has %zu", n, width,
                        (unsigned long long)n * width + 8, len);
    v->n = n;
    v->width = width;
    v->ids = rec + 8;
    return 0;
}

int tokens_decode(const uint8_t *rec, size_t len, uint32_t schema, tokens_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    tokens_view v;
    if (tokens_view_decode(rec, len, schema, &v, e)) return -1;
    out->n = v.n;
    out->ids = xmalloc((size_t)v.n * 4);
    for (uint32_t i = 0; i < v.n; i++) out->ids[i] = tokens_view_at(&v, i);
    return 0;
}

void tokens_free(tokens_rec *r) {
    free(r->ids);
    memset(r, 0, sizeof *r);
}

// ---- problems -------------------------------------------------------------------------------------------
// u64 id, u32 task, u32 split, u32 difficulty, then the strings prompt, answer, tests,
// solution, each as u32 length + bytes.

void problem_encode(bbuf *out, const problem_rec *p) {
    bbuf_u64(out, p->id);
    bbuf_u32(out, p->task);
    bbuf_u32(out, p->split);
    bbuf_u32(out, p->difficulty);
    put_str(out, p->prompt);
    put_str(out, p->answer);
    put_str(out, p->tests);
    put_str(out, p->solution);
}

int problem_decode(const uint8_t *rec, size_t len, uint32_t schema, problem_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    if (check_schema("problems", schema, PROBLEM_SCHEMA, e)) return -1;
    rd r;
    rd_init(&r, rec, len, "problems", e);
    if (rd_u64(&r, "id", &out->id)) return -1;
    rd_name(&r, out->id, UINT32_MAX);
    if (rd_u32(&r, "task", &out->task) || rd_u32(&r, "split", &out->split) || rd_u32(&r, "difficulty", &out->difficulty))
        return -1;
    if (out->task < 1 || out->task > TASK_KIND_MAX)
        return berr_set(e, "%s: unknown task kind %u at record byte offset 8", r.what, out->task);
    if (out->split > SPLIT_HELDOUT) return berr_set(e, "%s: unknown split %u at record byte offset 12", r.what, out->split);
    if (out->difficulty < 1)
        return berr_set(e, "%s: difficulty 0 at record byte offset 16 (1 is the easiest)", r.what);
    if (rd_str(&r, "prompt", &out->prompt) || rd_str(&r, "answer", &out->answer) || rd_str(&r, "tests", &out->tests) ||
        rd_str(&r, "solution", &out->solution) || rd_end(&r)) {
        problem_free(out);
        return -1;
    }
    return 0;
}

void problem_free(problem_rec *p) {
    free(p->prompt);
    free(p->answer);
    free(p->tests);
    free(p->solution);
    memset(p, 0, sizeof *p);
}

// ---- trajectory trees ----------------------------------------------------------------------------------
// u64 problem_id, u32 policy_version, u32 n_prompt, u32 n_nodes, n_prompt u32 prompt ids,
// then per node: u32 parent, u32 finish, u64 seed, u32 n_tokens, u32 n_steps,
// n_tokens u32 ids, n_tokens f32 log-probs, n_steps u32 step ends.

uint64_t traj_tree_id(const traj_rec *t) {
    uint64_t root = t->n_nodes ? t->nodes[0].seed : (t->n_prompt ? t->prompt[0] : 0);
    return mix64(mix64(t->problem_id, t->policy_version), root) | 1;  // never 0: 0 means "not known"
}

void traj_encode(bbuf *out, const traj_rec *t) {
    bbuf_u64(out, t->problem_id);
    bbuf_u32(out, t->policy_version);
    bbuf_u32(out, t->n_prompt);
    bbuf_u32(out, t->n_nodes);
    for (uint32_t i = 0; i < t->n_prompt; i++) bbuf_u32(out, t->prompt[i]);
    for (uint32_t k = 0; k < t->n_nodes; k++) {
        const traj_node *nd = &t->nodes[k];
        bbuf_u32(out, nd->parent);
        bbuf_u32(out, nd->finish);
        bbuf_u64(out, nd->seed);
        bbuf_u32(out, nd->n_tokens);
        bbuf_u32(out, nd->n_steps);
        bbuf_reserve(out, (size_t)nd->n_tokens * 8 + (size_t)nd->n_steps * 4);
        for (uint32_t i = 0; i < nd->n_tokens; i++) bbuf_u32(out, nd->tokens[i]);
        for (uint32_t i = 0; i < nd->n_tokens; i++) bbuf_f32(out, nd->logprobs[i]);
        for (uint32_t i = 0; i < nd->n_steps; i++) bbuf_u32(out, nd->step_ends[i]);
    }
}

static int traj_node_decode(rd *r, uint32_t k, traj_node *nd) {
    char f[64];
    snprintf(f, sizeof f, "nodes[%u]", k);
    size_t at = r->off;
    if (rd_u32(r, f, &nd->parent) || rd_u32(r, f, &nd->finish) || rd_u64(r, f, &nd->seed) ||
        rd_u32(r, f, &nd->n_tokens) || rd_u32(r, f, &nd->n_steps))
        return -1;
    if (nd->parent != TRAJ_ROOT && nd->parent >= k)
        return berr_set(r->e, "%s: node %u (record byte offset %zu) has parent %u, which does not precede it", r->what, k,
                        at, nd->parent);
    if (nd->finish > FINISH_BUDGET)
        return berr_set(r->e, "%s: node %u (record byte offset %zu) has unknown finish %u", r->what, k, at, nd->finish);
    snprintf(f, sizeof f, "nodes[%u].tokens", k);
    // Check the whole node fits before allocating anything for it.
    if (rd_need(r, f, (uint64_t)nd->n_tokens * 8 + (uint64_t)nd->n_steps * 4) || rd_u32s(r, f, nd->n_tokens, &nd->tokens))
        return -1;
    snprintf(f, sizeof f, "nodes[%u].logprobs", k);
    if (rd_f32s(r, f, nd->n_tokens, &nd->logprobs)) return -1;
    for (uint32_t i = 0; i < nd->n_tokens; i++)
        if (nd->logprobs[i] > 0)
            return berr_set(r->e, "%s: node %u log-prob %u is %g, above 0 (a log-prob is <= 0)", r->what, k, i,
                            nd->logprobs[i]);
    snprintf(f, sizeof f, "nodes[%u].step_ends", k);
    if (rd_u32s(r, f, nd->n_steps, &nd->step_ends)) return -1;
    for (uint32_t i = 0; i < nd->n_steps; i++)
        if (nd->step_ends[i] > nd->n_tokens || (i && nd->step_ends[i] <= nd->step_ends[i - 1]))
            return berr_set(r->e, "%s: node %u step end %u is %u: step ends must increase and not exceed the node's %u "
                            "tokens", r->what, k, i, nd->step_ends[i], nd->n_tokens);
    return 0;
}

int traj_decode(const uint8_t *rec, size_t len, uint32_t schema, traj_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    if (check_schema("trajectories", schema, TRAJ_SCHEMA, e)) return -1;
    rd r;
    rd_init(&r, rec, len, "trajectories", e);
    if (rd_u64(&r, "problem_id", &out->problem_id)) return -1;
    rd_name(&r, out->problem_id, UINT32_MAX);
    if (rd_u32(&r, "policy_version", &out->policy_version) || rd_u32(&r, "n_prompt", &out->n_prompt) ||
        rd_u32(&r, "n_nodes", &out->n_nodes))
        return -1;
    uint32_t n_nodes = out->n_nodes;
    out->n_nodes = 0;  // counts the nodes allocated so far, for traj_free on failure
    // Each node takes at least 24 bytes: a count that cannot fit is rejected before allocating.
    if (rd_u32s(&r, "prompt", out->n_prompt, &out->prompt) || rd_need(&r, "nodes", (uint64_t)n_nodes * 24)) {
        traj_free(out);
        return -1;
    }
    out->nodes = xcalloc(n_nodes ? n_nodes : 1, sizeof *out->nodes);
    for (uint32_t k = 0; k < n_nodes; k++) {
        out->n_nodes = k + 1;
        if (traj_node_decode(&r, k, &out->nodes[k])) {
            traj_free(out);
            return -1;
        }
    }
    if (rd_end(&r)) {
        traj_free(out);
        return -1;
    }
    return 0;
}

void traj_free(traj_rec *t) {
    for (uint32_t k = 0; t->nodes && k < t->n_nodes; k++) {
        free(t->nodes[k].tokens);
        free(t->nodes[k].logprobs);
        free(t->nodes[k].step_ends);
    }
    free(t->nodes);
    free(t->prompt);
    memset(t, 0, sizeof *t);
}

// ---- verdicts -------------------------------------------------------------------------------------------
// u64 problem_id, u32 node, u32 policy_version, u32 outcome, f32 cpu_seconds, string detail;
// schema 2: u64 tree_id.

void verdict_encode(bbuf *out, const verdict_rec *v) {
    bbuf_u64(out, v->problem_id);
    bbuf_u32(out, v->node);
    bbuf_u32(out, v->policy_version);
    bbuf_u32(out, v->outcome);
    bbuf_f32(out, v->cpu_seconds);
    put_str(out, v->detail);
    bbuf_u64(out, v->tree_id);
}

int verdict_decode(const uint8_t *rec, size_t len, uint32_t schema, verdict_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    if (check_schema("verdicts", schema, VERDICT_SCHEMA, e)) return -1;
    rd r;
    rd_init(&r, rec, len, "verdicts", e);
    if (rd_u64(&r, "problem_id", &out->problem_id) || rd_u32(&r, "node", &out->node)) return -1;
    rd_name(&r, out->problem_id, out->node);
    if (rd_u32(&r, "policy_version", &out->policy_version) || rd_u32(&r, "outcome", &out->outcome) ||
        rd_f32(&r, "cpu_seconds", &out->cpu_seconds))
        return -1;
    if (out->outcome > OUTCOME_VIOLATION)
        return berr_set(e, "%s: unknown outcome %u at record byte offset 16", r.what, out->outcome);
    if (out->cpu_seconds < 0)
        return berr_set(e, "%s: negative cpu_seconds %g at record byte offset 20", r.what, out->cpu_seconds);
    if (rd_str(&r, "detail", &out->detail) || (schema >= 2 && rd_u64(&r, "tree_id", &out->tree_id)) || rd_end(&r)) {
        verdict_free(out);
        return -1;
    }
    return 0;
}

void verdict_free(verdict_rec *v) {
    free(v->detail);
    memset(v, 0, sizeof *v);
}

// ---- scores ---------------------------------------------------------------------------------------------
// u64 problem_id, u32 node, f32 orm, u32 n_steps, n_steps f32 PRM values; schema 2: u64 tree_id,
// u32 policy_version, u32 flags, f32 prm_min, f32 prm_prod.

void score_encode(bbuf *out, const score_rec *s) {
    bbuf_u64(out, s->problem_id);
    bbuf_u32(out, s->node);
    bbuf_f32(out, s->orm);
    bbuf_u32(out, s->n_steps);
    for (uint32_t i = 0; i < s->n_steps; i++) bbuf_f32(out, s->prm[i]);
    bbuf_u64(out, s->tree_id);
    bbuf_u32(out, s->policy_version);
    bbuf_u32(out, s->flags);
    bbuf_f32(out, s->prm_min);
    bbuf_f32(out, s->prm_prod);
}

// The aggregates of a schema-1 record (which has no fields for them).
static void score_aggregates(score_rec *s) {
    float mn = 1, pr = 1;
    for (uint32_t i = 0; i < s->n_steps; i++) {
        mn = s->prm[i] < mn ? s->prm[i] : mn;
        pr *= s->prm[i];
    }
    s->prm_min = mn;
    s->prm_prod = pr;
}

int score_decode(const uint8_t *rec, size_t len, uint32_t schema, score_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    if (check_schema("scores", schema, SCORE_SCHEMA, e)) return -1;
    rd r;
    rd_init(&r, rec, len, "scores", e);
    if (rd_u64(&r, "problem_id", &out->problem_id) || rd_u32(&r, "node", &out->node)) return -1;
    rd_name(&r, out->problem_id, out->node);
    if (rd_f32(&r, "orm", &out->orm) || rd_u32(&r, "n_steps", &out->n_steps)) return -1;
    if (rd_f32s(&r, "prm", out->n_steps, &out->prm)) {
        score_free(out);
        return -1;
    }
    if (schema < 2) {
        out->flags = SCORE_HAS_ORM | SCORE_HAS_PRM;
        score_aggregates(out);
    } else {
        size_t at = r.off;
        if (rd_u64(&r, "tree_id", &out->tree_id) || rd_u32(&r, "policy_version", &out->policy_version) ||
            rd_u32(&r, "flags", &out->flags) || rd_f32(&r, "prm_min", &out->prm_min) || rd_f32(&r, "prm_prod", &out->prm_prod)) {
            score_free(out);
            return -1;
        }
        if (out->flags & ~(uint32_t)(SCORE_HAS_ORM | SCORE_HAS_PRM)) {
            berr_set(e, "%s: unknown flags %#x at record byte offset %zu", r.what, out->flags, at + 12);
            score_free(out);
            return -1;
        }
        if (!(out->flags & SCORE_HAS_PRM) && out->n_steps) {
            berr_set(e, "%s: %u PRM values but the flags say no PRM scored it", r.what, out->n_steps);
            score_free(out);
            return -1;
        }
    }
    if (rd_end(&r)) {
        score_free(out);
        return -1;
    }
    return 0;
}

void score_free(score_rec *s) {
    free(s->prm);
    memset(s, 0, sizeof *s);
}

// ---- labels ---------------------------------------------------------------------------------------------
// u64 problem_id, u64 tree_id, u32 policy_version, u32 n_prompt, u32 n_nodes, n_prompt u32 prompt
// ids, then per node: u32 parent, u32 flags, u32 outcome, u32 leaves, u32 passed, f32 value,
// f32 soft, u32 n_tokens, u32 n_steps, n_tokens u32 ids, n_steps u32 step ends. The decoder checks
// the tree: parents precede children, the leaf flag is "has no children", a leaf's counts are
// 1 and its verdict, an inner node's are the sums over its children, value = passed / leaves.

float label_value(uint32_t passed, uint32_t leaves) { return leaves ? (float)((double)passed / (double)leaves) : 0.0f; }

void label_encode(bbuf *out, const label_rec *l) {
    bbuf_u64(out, l->problem_id);
    bbuf_u64(out, l->tree_id);
    bbuf_u32(out, l->policy_version);
    bbuf_u32(out, l->n_prompt);
    bbuf_u32(out, l->n_nodes);
    for (uint32_t i = 0; i < l->n_prompt; i++) bbuf_u32(out, l->prompt[i]);
    for (uint32_t k = 0; k < l->n_nodes; k++) {
        const label_node *nd = &l->nodes[k];
        bbuf_u32(out, nd->parent);
        bbuf_u32(out, nd->flags);
        bbuf_u32(out, nd->outcome);
        bbuf_u32(out, nd->leaves);
        bbuf_u32(out, nd->passed);
        bbuf_f32(out, nd->value);
        bbuf_f32(out, nd->soft);
        bbuf_u32(out, nd->n_tokens);
        bbuf_u32(out, nd->n_steps);
        bbuf_reserve(out, ((size_t)nd->n_tokens + nd->n_steps) * 4);
        for (uint32_t i = 0; i < nd->n_tokens; i++) bbuf_u32(out, nd->tokens[i]);
        for (uint32_t i = 0; i < nd->n_steps; i++) bbuf_u32(out, nd->step_ends[i]);
    }
}

static int label_node_decode(rd *r, uint32_t k, label_node *nd) {
    char f[64];
    snprintf(f, sizeof f, "nodes[%u]", k);
    size_t at = r->off;
    if (rd_u32(r, f, &nd->parent) || rd_u32(r, f, &nd->flags) || rd_u32(r, f, &nd->outcome) ||
        rd_u32(r, f, &nd->leaves) || rd_u32(r, f, &nd->passed) || rd_f32(r, f, &nd->value) || rd_f32(r, f, &nd->soft) ||
        rd_u32(r, f, &nd->n_tokens) || rd_u32(r, f, &nd->n_steps))
        return -1;
    if (nd->parent != TRAJ_ROOT && nd->parent >= k)
        return berr_set(r->e, "labels record: node %u (record byte offset %zu) has parent %u, which does not precede it", k,
                        at, nd->parent);
    if (nd->flags & ~(uint32_t)(LABEL_LEAF | LABEL_HARD))
        return berr_set(r->e, "labels record: node %u (record byte offset %zu) has unknown flags %#x", k, at, nd->flags);
    if ((nd->flags & LABEL_LEAF) ? nd->outcome > OUTCOME_VIOLATION : nd->outcome != LABEL_NO_OUTCOME)
        return berr_set(r->e, "labels record: node %u (record byte offset %zu) is %s but has outcome %u", k, at,
                        (nd->flags & LABEL_LEAF) ? "a leaf" : "an inner node", nd->outcome);
    if (nd->leaves == 0 || nd->passed > nd->leaves)
        return berr_set(r->e, "labels record: node %u (record byte offset %zu) has %u passed of %u leaves", k, at,
                        nd->passed, nd->leaves);
    if (nd->value != label_value(nd->passed, nd->leaves))
        return berr_set(r->e, "labels record: node %u value %.9g is not passed/leaves = %u/%u", k, (double)nd->value,
                        nd->passed, nd->leaves);
    if (!(nd->soft >= 0 && nd->soft <= 1))
        return berr_set(r->e, "labels record: node %u soft label %.9g is not in [0, 1]", k, (double)nd->soft);
    snprintf(f, sizeof f, "nodes[%u].tokens", k);
    if (rd_need(r, f, ((uint64_t)nd->n_tokens + nd->n_steps) * 4) || rd_u32s(r, f, nd->n_tokens, &nd->tokens)) return -1;
    snprintf(f, sizeof f, "nodes[%u].step_ends", k);
    if (rd_u32s(r, f, nd->n_steps, &nd->step_ends)) return -1;
    for (uint32_t i = 0; i < nd->n_steps; i++)
        if (nd->step_ends[i] > nd->n_tokens || (i && nd->step_ends[i] <= nd->step_ends[i - 1]))
            return berr_set(r->e, "labels record: node %u step end %u is %u: step ends must increase and not exceed the "
                            "node's %u tokens", k, i, nd->step_ends[i], nd->n_tokens);
    return 0;
}

// The tree's consistency: leaf flags, counts summing up the tree.
static int label_check_tree(const label_rec *l, berr *e) {
    uint32_t n = l->n_nodes;
    uint8_t *child = xcalloc(n ? n : 1, 1);
    uint64_t *leaves = xcalloc(n ? n : 1, sizeof *leaves), *passed = xcalloc(n ? n : 1, sizeof *passed);
    int rc = 0;
    for (uint32_t k = 0; k < n; k++)
        if (l->nodes[k].parent != TRAJ_ROOT) child[l->nodes[k].parent] = 1;
    for (uint32_t k = n; k-- > 0 && !rc;) {
        const label_node *nd = &l->nodes[k];
        if (!!(nd->flags & LABEL_LEAF) == child[k]) {
            rc = berr_set(e, "labels record: node %u is marked %s but %s children", k, child[k] ? "a leaf" : "inner",
                          child[k] ? "has" : "has no");
            break;
        }
        if (!child[k]) leaves[k] = 1, passed[k] = nd->outcome == OUTCOME_PASS;
        if (leaves[k] != nd->leaves || passed[k] != nd->passed) {
            rc = berr_set(e, "labels record: node %u says %u passed of %u leaves; its subtree has %llu of %llu", k,
                          nd->passed, nd->leaves, (unsigned long long)passed[k], (unsigned long long)leaves[k]);
            break;
        }
        if (nd->parent != TRAJ_ROOT) leaves[nd->parent] += leaves[k], passed[nd->parent] += passed[k];
    }
    free(child), free(leaves), free(passed);
    return rc;
}

int label_decode(const uint8_t *rec, size_t len, uint32_t schema, label_rec *out, berr *e) {
    memset(out, 0, sizeof *out);
    if (check_schema("labels", schema, LABEL_SCHEMA, e)) return -1;
    rd r = {rec, len, 0, "labels", e};
    if (rd_u64(&r, "problem_id", &out->problem_id) || rd_u64(&r, "tree_id", &out->tree_id) ||
        rd_u32(&r, "policy_version", &out->policy_version) || rd_u32(&r, "n_prompt", &out->n_prompt) ||
        rd_u32(&r, "n_nodes", &out->n_nodes))
        return -1;
    uint32_t n_nodes = out->n_nodes;
    out->n_nodes = 0;  // nodes allocated so far, for label_free on failure
    // Each node takes at least 36 bytes: a count that cannot fit is rejected before allocating.
    if (rd_u32s(&r, "prompt", out->n_prompt, &out->prompt) || rd_need(&r, "nodes", (uint64_t)n_nodes * 36)) {
        label_free(out);
        return -1;
    }
    out->nodes = xcalloc(n_nodes ? n_nodes : 1, sizeof *out->nodes);
    for (uint32_t k = 0; k < n_nodes; k++) {
        out->n_nodes = k + 1;
        if (label_node_decode(&r, k, &out->nodes[k])) {
            label_free(out);
            return -1;
        }
    }
    if (rd_end(&r) || label_check_tree(out, e)) {
        label_free(out);
        return -1;
    }
    return 0;
}

void label_free(label_rec *l) {
    for (uint32_t k = 0; l->nodes && k < l->n_nodes; k++) {
        free(l->nodes[k].tokens);
        free(l->nodes[k].step_ends);
    }
    free(l->nodes);
    free(l->prompt);
    memset(l, 0, sizeof *l);
}

// ---- any kind ------------------------------------------------------------------------------------------

int record_key(uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, uint64_t *key, berr *e) {
    uint32_t max = record_schema_max(kind);
    if (!max) return berr_set(e, "unknown record kind %u", kind);
    if (schema < 1 || schema > max)
        return berr_set(e, "%s record: schema version %u is not one this build reads (1..%u)", shard_kind_name(kind),
                        schema, max);
    switch (kind) {
    case SHARD_TOKENS: {
        tokens_view v;
        if (tokens_view_decode(rec, len, schema, &v, e)) return -1;
        *key = v.n;
        return 0;
    }
    case SHARD_BYTES: *key = 0; return 0;
    default:  // every other kind starts with its u64 problem id
        if (len < 8) return berr_set(e, "%s record: %zu bytes, too short for its problem id", shard_kind_name(kind), len);
        *key = le64(rec);
        return 0;
    }
}

int record_check(uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, uint64_t *key, berr *e) {
    int rc;
    switch (kind) {
    case SHARD_TOKENS: {
        tokens_view v;
        rc = tokens_view_decode(rec, len, schema, &v, e);
        break;
    }
    case SHARD_PROBLEMS: {
        problem_rec p;
        rc = problem_decode(rec, len, schema, &p, e);
        if (!rc) problem_free(&p);
        break;
    }
    case SHARD_TRAJECTORIES: {
        traj_rec t;
        rc = traj_decode(rec, len, schema, &t, e);
        if (!rc) traj_free(&t);
        break;
    }
    case SHARD_VERDICTS: {
        verdict_rec v;
        rc = verdict_decode(rec, len, schema, &v, e);
        if (!rc) verdict_free(&v);
        break;
    }
    case SHARD_SCORES: {
        score_rec s;
        rc = score_decode(rec, len, schema, &s, e);
        if (!rc) score_free(&s);
        break;
    }
    case SHARD_LABELS: {
        label_rec l;
        rc = label_decode(rec, len, schema, &l, e);
        if (!rc) label_free(&l);
        break;
    }
    case SHARD_BYTES: rc = 0; break;
    default: return berr_set(e, "unknown record kind %u", kind);
    }
    return rc ? -1 : record_key(kind, schema, rec, len, key, e);
}

// ---- refused records ------------------------------------------------------------------------------

// The stage that writes each kind, for the advice in record_refused.
static const char *kind_stage(uint32_t kind) {
    switch (kind) {
    case SHARD_TOKENS: return "shards tokenize or shards import-llmc";
    case SHARD_PROBLEMS: return "verify gen";
    case SHARD_TRAJECTORIES: return "rollout";
    case SHARD_VERDICTS: return "verify run or verify check";
    case SHARD_SCORES: return "reward";
    default: return "the program that wrote it";
    }
}

int record_refused(berr *e, const char *path, uint64_t record, const shard_info *in) {
    if (!e) return -1;
    char why[sizeof e->msg], when[32] = "an unknown time";
    memcpy(why, e->msg, sizeof why);
    time_t t = (time_t)in->created_unix;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(e->msg, sizeof e->msg,
             "%s record %llu: %s. The whole shard is refused. Producer %s wrote it (%s) with a value that readers do "
             "not accept; writers check every record before publishing it, so an older build wrote this one. "
             "Regenerate it: run %s again with this build into a fresh directory, then the stages after it "
             "(shards/FORMAT.md, 2.2 \"Refused records\")",
             path, (unsigned long long)record, why, in->producer, when, kind_stage(in->kind));
    return -1;
}

// ---- JSON ----------------------------------------------------------------------------------------------

static void json_u32s(FILE *f, const uint32_t *v, uint32_t n) {
    fputc('[', f);
    for (uint32_t i = 0; i < n; i++) fprintf(f, i ? ",%u" : "%u", v[i]);
    fputc(']', f);
}
static void json_f32s(FILE *f, const float *v, uint32_t n) {
    fputc('[', f);
    for (uint32_t i = 0; i < n; i++) fprintf(f, i ? ",%.9g" : "%.9g", (double)v[i]);
    fputc(']', f);
}
static void json_key_str(FILE *f, const char *key, const char *s) {
    fprintf(f, ",\"%s\":", key);
    json_string(f, s, strlen(s));
}

static int label_print_json(FILE *f, uint32_t schema, const uint8_t *rec, size_t len, berr *e) {
    label_rec l;
    if (label_decode(rec, len, schema, &l, e)) return -1;
    fprintf(f, "{\"problem_id\":%llu,\"tree_id\":%llu,\"policy_version\":%u,\"prompt\":", (unsigned long long)l.problem_id,
            (unsigned long long)l.tree_id, l.policy_version);
    json_u32s(f, l.prompt, l.n_prompt);
    fputs(",\"nodes\":[", f);
    for (uint32_t k = 0; k < l.n_nodes; k++) {
        const label_node *nd = &l.nodes[k];
        if (nd->parent == TRAJ_ROOT) fprintf(f, "%s{\"parent\":null", k ? "," : "");
        else fprintf(f, "%s{\"parent\":%u", k ? "," : "", nd->parent);
        fprintf(f, ",\"leaf\":%s", (nd->flags & LABEL_LEAF) ? "true" : "false");
        if (nd->flags & LABEL_LEAF) fprintf(f, ",\"outcome\":\"%s\"", outcome_name(nd->outcome));
        else fputs(",\"outcome\":null", f);
        fprintf(f, ",\"leaves\":%u,\"passed\":%u,\"value\":%.9g,\"soft\":%.9g,\"hard\":%d,\"tokens\":", nd->leaves,
                nd->passed, (double)nd->value, (double)nd->soft, (nd->flags & LABEL_HARD) ? 1 : 0);
        json_u32s(f, nd->tokens, nd->n_tokens);
        fputs(",\"step_ends\":", f);
        json_u32s(f, nd->step_ends, nd->n_steps);
        fputc('}', f);
    }
    fputs("]}\n", f);
    label_free(&l);
    return 0;
}

int record_print_json(FILE *f, uint32_t kind, uint32_t schema, const uint8_t *rec, size_t len, berr *e) {
    switch (kind) {
    case SHARD_TOKENS: {
        tokens_view v;
        if (tokens_view_decode(rec, len, schema, &v, e)) return -1;
        fprintf(f, "{\"n\":%u,\"ids\":[", v.n);
        for (uint32_t i = 0; i < v.n; i++) fprintf(f, i ? ",%u" : "%u", tokens_view_at(&v, i));
        fputs("]}\n", f);
        return 0;
    }
    case SHARD_PROBLEMS: {
        problem_rec p;
        if (problem_decode(rec, len, schema, &p, e)) return -1;
        fprintf(f, "{\"id\":%llu,\"task\":\"%s\",\"split\":\"%s\",\"difficulty\":%u", (unsigned long long)p.id,
                task_kind_name(p.task), task_split_name(p.split), p.difficulty);
        json_key_str(f, "prompt", p.prompt);
        json_key_str(f, "answer", p.answer);
        json_key_str(f, "tests", p.tests);
        json_key_str(f, "solution", p.solution);
        fputs("}\n", f);
        problem_free(&p);
        return 0;
    }
    case SHARD_TRAJECTORIES: {
        traj_rec t;
        if (traj_decode(rec, len, schema, &t, e)) return -1;
        fprintf(f, "{\"problem_id\":%llu,\"policy_version\":%u,\"prompt\":", (unsigned long long)t.problem_id,
                t.policy_version);
        json_u32s(f, t.prompt, t.n_prompt);
        fputs(",\"nodes\":[", f);
        for (uint32_t k = 0; k < t.n_nodes; k++) {
            const traj_node *nd = &t.nodes[k];
            if (nd->parent == TRAJ_ROOT) fprintf(f, "%s{\"parent\":null", k ? "," : "");
            else fprintf(f, "%s{\"parent\":%u", k ? "," : "", nd->parent);
            fprintf(f, ",\"finish\":\"%s\",\"seed\":%llu,\"tokens\":", traj_finish_name(nd->finish),
                    (unsigned long long)nd->seed);
            json_u32s(f, nd->tokens, nd->n_tokens);
            fputs(",\"logprobs\":", f);
            json_f32s(f, nd->logprobs, nd->n_tokens);
            fputs(",\"step_ends\":", f);
            json_u32s(f, nd->step_ends, nd->n_steps);
            fputc('}', f);
        }
        fputs("]}\n", f);
        traj_free(&t);
        return 0;
    }
    case SHARD_VERDICTS: {
        verdict_rec v;
        if (verdict_decode(rec, len, schema, &v, e)) return -1;
        fprintf(f, "{\"problem_id\":%llu,\"node\":%u,\"policy_version\":%u,\"outcome\":\"%s\",\"cpu_seconds\":%.9g",
                (unsigned long long)v.problem_id, v.node, v.policy_version, outcome_name(v.outcome),
                (double)v.cpu_seconds);
        json_key_str(f, "detail", v.detail);
        if (schema >= 2) fprintf(f, ",\"tree_id\":%llu", (unsigned long long)v.tree_id);
        fputs("}\n", f);
        verdict_free(&v);
        return 0;
    }
    case SHARD_SCORES: {
        score_rec s;
        if (score_decode(rec, len, schema, &s, e)) return -1;
        fprintf(f, "{\"problem_id\":%llu,\"node\":%u,\"orm\":%.9g,\"prm\":", (unsigned long long)s.problem_id, s.node,
                (double)s.orm);
        json_f32s(f, s.prm, s.n_steps);
        if (schema >= 2)
            fprintf(f, ",\"tree_id\":%llu,\"policy_version\":%u,\"has_orm\":%s,\"has_prm\":%s,\"prm_min\":%.9g,\"prm_prod\":%.9g",
                    (unsigned long long)s.tree_id, s.policy_version, (s.flags & SCORE_HAS_ORM) ? "true" : "false",
                    (s.flags & SCORE_HAS_PRM) ? "true" : "false", (double)s.prm_min, (double)s.prm_prod);
        fputs("}\n", f);
        score_free(&s);
        return 0;
    }
    case SHARD_LABELS: return label_print_json(f, schema, rec, len, e);
    case SHARD_BYTES: {
        fprintf(f, "{\"len\":%zu,\"hex\":\"", len);
        for (size_t i = 0; i < len; i++) fprintf(f, "%02x", rec[i]);
        fputs("\"}\n", f);
        return 0;
    }
    default: return berr_set(e, "unknown record kind %u", kind);
    }
}
