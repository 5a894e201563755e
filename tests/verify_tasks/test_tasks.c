// test_tasks.c — the task generators: determinism (bit for bit, pinned), ids and splits,
// train/held-out disjointness on large samples, the difficulty knob, the text format,
// reference solutions verified by the math verifier (and perturbed answers rejected),
// the corpus writer, option parsing and generation speed.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/base.h"
#include "shards/records.h"
#include "tests/test.h"
#include "verify/math.h"
#include "shards/task_format.h"
#include "verify/tasks.h"

// ---- a set of 64-bit keys (open addressing; 0 is stored as a flag) ----------------------------------

typedef struct u64set {
    uint64_t *slot;
    size_t cap, n;
    int has_zero;
} u64set;

static void set_init(u64set *s, size_t expect) {
    s->cap = 1;
    while (s->cap < expect * 2) s->cap <<= 1;
    s->slot = xcalloc(s->cap, sizeof *s->slot);
    s->n = 0;
    s->has_zero = 0;
}
static int set_has(const u64set *s, uint64_t k) {
    if (!k) return s->has_zero;
    for (size_t i = k & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == k) return 1;
        if (!s->slot[i]) return 0;
    }
}
static void set_add(u64set *s, uint64_t k) {
    if (!k) {
        s->has_zero = 1;
        return;
    }
    if (s->n * 2 >= s->cap) {
        u64set t;
        set_init(&t, s->cap);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) set_add(&t, s->slot[i]);
        t.has_zero = s->has_zero;
        free(s->slot);
        *s = t;
    }
    for (size_t i = k & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == k) return;
        if (!s->slot[i]) {
            s->slot[i] = k;
            s->n++;
            return;
        }
    }
}

static uint64_t record_hash(const problem_rec *p) {
    uint64_t h = hash64(p->prompt, strlen(p->prompt), p->id ^ p->task ^ (uint64_t)p->split << 8 ^ (uint64_t)p->difficulty << 16);
    h = hash64(p->answer, strlen(p->answer), h);
    h = hash64(p->tests, strlen(p->tests), h);
    return hash64(p->solution, strlen(p->solution), h);
}

static const char *kind_name(uint32_t k) { return k == TASK_ARITH ? "arith" : k == TASK_LINEAR ? "linear" : k == TASK_ALGEBRA ? "algebra" : "code"; }

// The canonical statement, recomputed from the record: the prompt for math, the first
// (specification) line for code.
static size_t canonical_len(const problem_rec *p) {
    if (p->task != TASK_CODE) return strlen(p->prompt);
    const char *nl = strchr(p->prompt, '\n');
    return nl ? (size_t)(nl - p->prompt) + 1 : strlen(p->prompt);
}

static uint64_t content_id(const problem_rec *p) {
    bbuf b = {0};
    const char *k = kind_name(p->task);
    bbuf_put(&b, k, strlen(k));
    bbuf_put(&b, "\n", 1);
    bbuf_put(&b, p->prompt, canonical_len(p));
    uint64_t h = hash64(b.p, b.n, 0);
    bbuf_free(&b);
    return h;
}

static tasks_opts opts(uint32_t kinds, int dmin, int dmax, uint32_t split, uint64_t seed, int64_t count) {
    tasks_opts o;
    tasks_opts_default(&o);
    o.kinds = kinds;
    o.min_difficulty = dmin;
    o.max_difficulty = dmax;
    o.split = split;
    o.seed = seed;
    o.count = count > 0 ? count : 1;  // streams ignore the count; the writers use it
    o.progress = 0;
    return o;
}

// ---- determinism ------------------------------------------------------------------------------------

static uint64_t stream_digest(const tasks_opts *o, int n) {
    tasks_stream s;
    berr e;
    uint64_t h = 0;
    if (tasks_stream_init(&s, o, &e)) {
        CHECK(0, "stream init: %s", e.msg);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        problem_rec p;
        if (tasks_stream_next(&s, &p, &e)) {
            CHECK(0, "stream: %s", e.msg);
            break;
        }
        h = mix64(h, record_hash(&p));
        problem_free(&p);
    }
    tasks_stream_free(&s);
    return h;
}

static void test_determinism(void) {
    tasks_opts a = opts(TASKS_ALL_KINDS, 1, 5, SPLIT_TRAIN, 12345, 0);
    // Pinned digests, recorded once (a digest computed twice in one process could only differ
    // through hidden state; these also fail when the output changes between builds or runs).
    uint64_t h1 = stream_digest(&a, 3000);
    CHECK(h1 == 0x79001e6e8c784c2full, "pinned digest of 3000 problems of all kinds: got 0x%016" PRIx64 "ull", h1);
    tasks_opts b = a;
    b.seed = 12346;
    CHECK(stream_digest(&b, 3000) != h1, "another seed gives other problems");
    tasks_opts c = a;
    c.split = SPLIT_HELDOUT;
    uint64_t hh = stream_digest(&c, 300);
    CHECK(hh == 0xb968837d475c4ae0ull, "pinned digest of 300 held-out problems: got 0x%016" PRIx64 "ull", hh);
    // Pinned: the generators' output for these options must not change by accident (a
    // deliberate change of a generator updates these values, and says so in its commit).
    static const struct {
        uint32_t kind;
        uint64_t digest;
    } pinned[] = {
        {TASK_ARITH, 0xecf0443eb9b07a06ull},
        {TASK_LINEAR, 0x3eef126a1603ed92ull},
        {TASK_ALGEBRA, 0xd869ac980965f55aull},
        {TASK_CODE, 0xff6cd26aa95330deull},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        tasks_opts o = opts(TASKS_KIND_BIT(pinned[i].kind), 1, 5, SPLIT_TRAIN, 1, 0);
        uint64_t d = stream_digest(&o, 500);
        CHECK(d == pinned[i].digest, "pinned digest of %s: got 0x%016" PRIx64 "ull, pinned 0x%016" PRIx64 "ull", kind_name(pinned[i].kind), d, pinned[i].digest);
    }
    // tasks_make: its record for these arguments is pinned too.
    problem_rec p1;
    REQUIRE(tasks_make(TASK_ALGEBRA, 4, 99, -1, 10, &p1) == 1, "tasks_make(algebra, 4, 99) made no problem");
    CHECK(record_hash(&p1) == 0xdf0fcd3ee1b0f6faull, "tasks_make(algebra, 4, 99): record hash 0x%016" PRIx64 "ull, pinned otherwise",
          record_hash(&p1));
    // With a wanted split, tasks_make either returns the same record or declines.
    problem_rec p3;
    int got = tasks_make(TASK_ALGEBRA, 4, 99, (int)p1.split, 10, &p3);
    CHECK(got == 1 && record_hash(&p3) == record_hash(&p1), "wanted split accepted");
    if (got) problem_free(&p3);
    CHECK(tasks_make(TASK_ALGEBRA, 4, 99, (int)!p1.split, 10, &p3) == 0, "other split declined");
    problem_free(&p1);
}

// ---- ids, splits, disjointness ------------------------------------------------------------------------

static void test_splits(void) {
    const int n_train = 200000, n_held = 40000;
    u64set held_ids, held_content, ids_seen;
    set_init(&held_ids, n_held);
    set_init(&held_content, n_held);
    set_init(&ids_seen, n_train);
    berr e;
    int bad_id = 0, bad_split = 0, overlap = 0, overlap_content = 0;
    // Held-out first, from one seed; train from another: disjointness must not depend on seeds.
    tasks_opts h = opts(TASKS_ALL_KINDS, 1, 5, SPLIT_HELDOUT, 777, 0);
    tasks_stream s;
    CHECK(tasks_stream_init(&s, &h, &e) == 0, "init: %s", e.msg);
    for (int i = 0; i < n_held; i++) {
        problem_rec p;
        if (tasks_stream_next(&s, &p, &e)) {
            CHECK(0, "heldout stream: %s", e.msg);
            break;
        }
        bad_id += p.id != content_id(&p);
        bad_split += p.split != SPLIT_HELDOUT || tasks_split_of(p.id, 10) != SPLIT_HELDOUT;
        set_add(&held_ids, p.id);
        // Content, independently of the id: the canonical statement under another hash seed.
        set_add(&held_content, hash64(p.prompt, canonical_len(&p), 0x5eed) ^ p.task);
        problem_free(&p);
    }
    tasks_stream_free(&s);
    uint64_t draws_held = s.next_draw;
    tasks_opts t = opts(TASKS_ALL_KINDS, 1, 5, SPLIT_TRAIN, 778, 0);
    CHECK(tasks_stream_init(&s, &t, &e) == 0, "init: %s", e.msg);
    int same_id_other_record = 0;
    u64set rec_of_id;  // id -> record hash consistency, checked through a second set of (id ^ record hash)
    set_init(&rec_of_id, n_train);
    for (int i = 0; i < n_train; i++) {
        problem_rec p;
        if (tasks_stream_next(&s, &p, &e)) {
            CHECK(0, "train stream: %s", e.msg);
            break;
        }
        bad_id += p.id != content_id(&p);
        bad_split += p.split != SPLIT_TRAIN || tasks_split_of(p.id, 10) != SPLIT_TRAIN;
        overlap += set_has(&held_ids, p.id);
        overlap_content += set_has(&held_content, hash64(p.prompt, canonical_len(&p), 0x5eed) ^ p.task);
        // A repeated id must come with the very same record.
        uint64_t pair = mix64(p.id, record_hash(&p));
        if (set_has(&ids_seen, p.id) && !set_has(&rec_of_id, pair)) same_id_other_record++;
        set_add(&ids_seen, p.id);
        set_add(&rec_of_id, pair);
        problem_free(&p);
    }
    tasks_stream_free(&s);
    printf("splits: %d train problems (%zu distinct), %d held-out (%zu distinct, %" PRIu64 " draws)\n", n_train, ids_seen.n, n_held, held_ids.n, draws_held);
    CHECK(bad_id == 0, "%d problems whose id is not the hash of their content", bad_id);
    CHECK(bad_split == 0, "%d problems in the wrong split", bad_split);
    CHECK(overlap == 0, "%d train problems have a held-out id", overlap);
    CHECK(overlap_content == 0, "%d train problems have held-out content", overlap_content);
    CHECK(same_id_other_record == 0, "%d ids came with two different records", same_id_other_record);
    // The held-out share of draws is close to heldout_pct.
    double share = (double)n_held / (double)draws_held;
    CHECK(share > 0.08 && share < 0.12, "held-out share of draws %.3f, expected about 0.10", share);
    // Most problems are distinct (the low levels of some kinds have small spaces).
    CHECK(ids_seen.n > (size_t)n_train / 2, "only %zu distinct train problems in %d", ids_seen.n, n_train);
    free(held_ids.slot);
    free(held_content.slot);
    free(ids_seen.slot);
    free(rec_of_id.slot);
    // Another held-out percentage moves the boundary but the rule stays a function of the id.
    CHECK(tasks_split_of(1234500, 1) == SPLIT_HELDOUT && tasks_split_of(1234501, 1) == SPLIT_TRAIN, "id %% 100 < pct");
}

// ---- difficulty -----------------------------------------------------------------------------------

static int count_steps(const char *s) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, BERRY_STEP)); p += sizeof BERRY_STEP - 1) n++;
    return n;
}

static void test_difficulty(void) {
    for (uint32_t kind = TASK_ARITH; kind <= TASK_CODE; kind++) {
        double mean_len[TASKS_MAX_DIFFICULTY + 1] = {0};
        for (int d = 1; d <= TASKS_MAX_DIFFICULTY; d++) {
            int n = 2000, wrong_difficulty = 0, wrong_steps = 0;
            double total = 0;
            tasks_opts o = opts(TASKS_KIND_BIT(kind), d, d, SPLIT_TRAIN, 5, 0);
            tasks_stream s;
            berr e;
            tasks_stream_init(&s, &o, &e);
            for (int i = 0; i < n; i++) {
                problem_rec p;
                if (tasks_stream_next(&s, &p, &e)) break;
                wrong_difficulty += p.difficulty != (uint32_t)d;
                total += (double)(strlen(p.prompt) + strlen(p.solution));
                if (kind == TASK_ARITH) wrong_steps += count_steps(p.solution) != d + 1;
                problem_free(&p);
            }
            tasks_stream_free(&s);
            CHECK(wrong_difficulty == 0, "%s level %d: %d problems with another difficulty", kind_name(kind), d, wrong_difficulty);
            if (kind == TASK_ARITH)
                CHECK(wrong_steps == 0, "arith level %d: %d of %d solutions without one step per operation (%d)", d, wrong_steps, n, d + 1);
            mean_len[d] = total / n;
        }
        printf("difficulty %-7s mean prompt+solution bytes:", kind_name(kind));
        for (int d = 1; d <= TASKS_MAX_DIFFICULTY; d++) printf(" %.0f", mean_len[d]);
        printf("\n");
        // Size grows with difficulty: strictly per level for math, overall for code (whose
        // levels are different families).
        if (kind != TASK_CODE) {
            for (int d = 2; d <= TASKS_MAX_DIFFICULTY; d++)
                CHECK(mean_len[d] > mean_len[d - 1], "%s: level %d (%.0f bytes) not larger than level %d (%.0f)", kind_name(kind), d, mean_len[d], d - 1, mean_len[d - 1]);
        } else {
            CHECK(mean_len[5] > mean_len[3] && mean_len[3] > mean_len[1], "code: levels 1/3/5 mean %.0f/%.0f/%.0f bytes", mean_len[1], mean_len[3], mean_len[5]);
        }
    }
}

// ---- format and verification of reference solutions -------------------------------------------------

static int check_format(const problem_rec *p) {
    size_t lp = strlen(p->prompt), ls = strlen(p->solution);
    int ok = lp > 0 && p->prompt[lp - 1] == '\n' && !strstr(p->prompt, "<|");
    ok = ok && ls > 0 && p->solution[ls - 1] == '\n';
    const char *ans = strstr(p->solution, BERRY_ANSWER);
    ok = ok && ans && !strstr(ans + 1, BERRY_ANSWER) && !strstr(p->solution, BERRY_EOT);
    // Every line before the answer is one step; the answer marker opens a line.
    ok = ok && (ans == p->solution || ans[-1] == '\n');
    for (const char *line = p->solution; ok && line < ans;) {
        const char *nl = strchr(line, '\n'), *next = strstr(line + 1, BERRY_STEP);
        ok = nl && nl < ans && !strncmp(line, BERRY_STEP, sizeof BERRY_STEP - 1) && (!next || next > nl) && nl > line + sizeof BERRY_STEP - 1;
        line = nl ? nl + 1 : ans;
    }
    if (p->task == TASK_CODE) {
        ok = ok && p->answer[0] == 0 && p->tests[0] != 0 && !strncmp(ans + sizeof BERRY_ANSWER - 1, "def ", 4);
        int asserts = 0;
        for (const char *t = p->tests; (t = strstr(t, "assert ")); t++) asserts++;
        ok = ok && asserts == 10 && strstr(p->prompt, "Examples:\n");
    } else {
        // The answer line is exactly the reference answer.
        size_t la = strlen(p->answer);
        ok = ok && p->tests[0] == 0 && la > 0 && !strncmp(ans + sizeof BERRY_ANSWER - 1, p->answer, la) &&
             ans[sizeof BERRY_ANSWER - 1 + la] == '\n' && ans[sizeof BERRY_ANSWER + la] == 0;
    }
    return ok;
}

// A wrong answer near the right one: the rational +1, or the expression + 1.
static void perturbed(const char *ref, char *out, size_t cap) {
    mq_rat r;
    char err[64];
    if (math_parse_number(ref, strlen(ref), &r, err, sizeof err) == 0) {
        const char *slash = strchr(ref, '/');
        long long p = strtoll(ref, NULL, 10), q = slash ? strtoll(slash + 1, NULL, 10) : 1;
        snprintf(out, cap, slash ? "%lld/%lld" : "%lld", p + q, q);
    } else {
        snprintf(out, cap, "(%s) + 1", ref);
    }
}

// The same value written differently: 2p/2q for numbers, (x)*3/3 style for expressions.
static void rewritten(const problem_rec *p, char *out, size_t cap) {
    const char *ref = p->answer;
    mq_rat r;
    char err[64];
    if (math_parse_number(ref, strlen(ref), &r, err, sizeof err) == 0) {
        const char *slash = strchr(ref, '/');
        long long a = strtoll(ref, NULL, 10), q = slash ? strtoll(slash + 1, NULL, 10) : 1;
        snprintf(out, cap, "%s%lld/%lld", p->task == TASK_LINEAR ? "x = " : "", 2 * a, 2 * q);
    } else if (!strncmp(p->prompt, "Expand ", 7)) {
        // The unexpanded product from the statement is the same polynomial.
        snprintf(out, cap, "%.*s", (int)(strlen(p->prompt) - 9), p->prompt + 7);
    } else {
        snprintf(out, cap, "3(%s)/3", ref);
    }
}

static void test_reference_solutions(void) {
    int bad_format = 0, not_pass = 0, perturbed_pass = 0, rewritten_fail = 0, n = 0;
    berr e;
    char buf[1024];
    for (uint32_t kind = TASK_ARITH; kind <= TASK_CODE; kind++)
        for (int split = 0; split <= 1; split++) {
            tasks_opts o = opts(TASKS_KIND_BIT(kind), 1, 5, (uint32_t)split, 31 + kind, 0);
            tasks_stream s;
            tasks_stream_init(&s, &o, &e);
            int count = split ? 2000 : 12000;
            for (int i = 0; i < count; i++) {
                problem_rec p;
                if (tasks_stream_next(&s, &p, &e)) {
                    CHECK(0, "%s", e.msg);
                    break;
                }
                n++;
                if (!check_format(&p)) {
                    if (bad_format++ < 3) fprintf(stderr, "bad format:\n%s%s[answer %s]\n[tests]\n%s\n", p.prompt, p.solution, p.answer, p.tests);
                }
                if (kind != TASK_CODE) {
                    // The whole worked solution, as a model would write it, passes.
                    bbuf doc = {0};
                    bbuf_put(&doc, p.solution, strlen(p.solution));
                    bbuf_put(&doc, BERRY_EOT, sizeof BERRY_EOT - 1);
                    math_verdict v;
                    if (math_check((const char *)doc.p, doc.n, &p, &v) != 0 || v.outcome != OUTCOME_PASS) {
                        if (not_pass++ < 3) fprintf(stderr, "reference does not pass: %s\n%s%s", v.detail, p.prompt, p.solution);
                    }
                    bbuf_free(&doc);
                    perturbed(p.answer, buf, sizeof buf);
                    if (math_compare(buf, strlen(buf), p.answer, p.task, &v) != 0 || v.outcome == OUTCOME_PASS) {
                        if (perturbed_pass++ < 3) fprintf(stderr, "perturbed answer '%s' passes: %s\n", buf, v.detail);
                    }
                    rewritten(&p, buf, sizeof buf);
                    if (math_compare(buf, strlen(buf), p.answer, p.task, &v) != 0 || v.outcome != OUTCOME_PASS) {
                        if (rewritten_fail++ < 3) fprintf(stderr, "equivalent answer '%s' fails: %s\n", buf, v.detail);
                    }
                }
                problem_free(&p);
            }
            tasks_stream_free(&s);
        }
    printf("reference solutions: %d problems checked\n", n);
    CHECK(bad_format == 0, "%d problems break the text format", bad_format);
    CHECK(not_pass == 0, "%d reference solutions do not pass the math verifier", not_pass);
    CHECK(perturbed_pass == 0, "%d perturbed answers pass", perturbed_pass);
    CHECK(rewritten_fail == 0, "%d equivalent rewritten answers fail", rewritten_fail);
}

// ---- corpus ------------------------------------------------------------------------------------------

static int count_sub(const char *s, size_t n, const char *sub) {
    int c = 0;
    size_t k = strlen(sub);
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), sub, k)); p += k) c++;
    return c;
}

static void test_corpus(void) {
    char dir[] = "/tmp/berry_tasks_corpus_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    char *p1 = xasprintf("%s/a.txt", dir);
    tasks_opts o = opts(TASKS_ALL_KINDS, 1, 5, SPLIT_TRAIN, 9, 5000);
    o.filler_pct = 20;
    berr e;
    CHECK(tasks_write_corpus(&o, p1, &e) == 0, "corpus: %s", e.msg);
    char *a = NULL;
    size_t na = 0;
    CHECK(read_file(p1, &a, &na, &e) == 0, "read corpus: %s", e.msg);
    if (a) {
        uint64_t hc = hash64(a, na, 0);
        CHECK(hc == 0xb7347117a30bd8afull, "pinned corpus (5000 documents, seed 9): %zu bytes, hash 0x%016" PRIx64 "ull", na, hc);
        int docs = count_sub(a, na, BERRY_EOT), answers = count_sub(a, na, BERRY_ANSWER);
        CHECK(docs == 5000, "5000 documents, got %d", docs);
        // Filler documents have no answer marker; worked problems have exactly one.
        int filler = docs - answers;
        CHECK(filler > 800 && filler < 1200, "about 20%% filler, got %d of %d", filler, docs);
        CHECK(na > 100 && !memcmp(a + na - (sizeof BERRY_EOT - 1), BERRY_EOT, sizeof BERRY_EOT - 1), "ends with end-of-text");
        // No held-out problem leaks into a train corpus: every prompt of the corpus is train.
        int heldout_docs = 0;
        for (char *doc = a; doc < a + na;) {
            char *end = memmem(doc, na - (size_t)(doc - a), BERRY_EOT, sizeof BERRY_EOT - 1);
            if (!end) break;
            char *first_step = memmem(doc, (size_t)(end - doc), "<|", 2);
            if (first_step && memmem(doc, (size_t)(end - doc), BERRY_ANSWER, sizeof BERRY_ANSWER - 1)) {
                problem_rec q = {0};
                q.prompt = doc;
                // Math prompts are one line; a code prompt's first line is its statement.
                char *nl = memchr(doc, '\n', (size_t)(end - doc));
                int is_code = !strncmp(doc, "Write a Python function", 23);
                q.task = is_code ? TASK_CODE : !strncmp(doc, "Compute", 7) ? TASK_ARITH : !strncmp(doc, "Solve", 5) ? TASK_LINEAR : TASK_ALGEBRA;
                char save = nl[1];
                nl[1] = 0;
                heldout_docs += tasks_split_of(content_id(&q), 10) == SPLIT_HELDOUT;
                nl[1] = save;
            }
            doc = end + sizeof BERRY_EOT - 1;
        }
        CHECK(heldout_docs == 0, "%d held-out problems in the train corpus", heldout_docs);
    }
    free(a);
    // A failing write leaves nothing at the path.
    char *missing = xasprintf("%s/no/such/dir/c.txt", dir);
    CHECK(tasks_write_corpus(&o, missing, &e) != 0 && strstr(e.msg, "no/such/dir"), "unwritable path is an error naming it: %s", e.msg);
    CHECK(access(missing, F_OK) != 0, "nothing written");
    unlink(p1);
    rmdir(dir);
    free(p1);
    free(missing);
    // Filler documents: plain sentences, no markers but the final end-of-text; pinned.
    uint64_t hf = 0;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        bbuf d = {0};
        tasks_filler_document(&d, seed);
        hf = mix64(hf, hash64(d.p, d.n, 0));
        EXPECT(count_sub((char *)d.p, d.n, "<|") == 1 && count_sub((char *)d.p, d.n, BERRY_EOT) == 1,
               "filler document %llu has markers besides the final end-of-text", (unsigned long long)seed);
        bbuf_free(&d);
    }
    CHECK_EXPECTED("2000 filler documents: only the end-of-text marker");
    CHECK(hf == 0x97a7d3e050f54f40ull, "pinned digest of filler documents 0-1999: got 0x%016" PRIx64 "ull", hf);
}

// ---- options -------------------------------------------------------------------------------------

static void test_options(void) {
    tasks_opts o;
    berr e;
    tasks_opts_default(&o);
    CHECK(tasks_opts_check(&o, &e) == 0, "defaults are valid: %s", e.msg);
    CHECK(tasks_opts_set(&o, "kinds", "arith,code", &e) == 0 && o.kinds == (TASKS_KIND_BIT(TASK_ARITH) | TASKS_KIND_BIT(TASK_CODE)), "kinds list");
    CHECK(tasks_opts_set(&o, "kinds", "math", &e) == 0 && o.kinds == TASKS_MATH_KINDS, "kinds math");
    CHECK(tasks_opts_set(&o, "kinds", "arith,foo", &e) != 0 && strstr(e.msg, "'foo'"), "unknown kind named: %s", e.msg);
    CHECK(tasks_opts_set(&o, "kinds", "arith,", &e) != 0, "trailing comma");
    CHECK(tasks_opts_set(&o, "kinds", "", &e) != 0, "empty kinds");
    CHECK(tasks_opts_set(&o, "difficulty", "2-4", &e) == 0 && o.min_difficulty == 2 && o.max_difficulty == 4, "difficulty range");
    CHECK(tasks_opts_set(&o, "difficulty", "3", &e) == 0 && o.min_difficulty == 3 && o.max_difficulty == 3, "difficulty");
    CHECK(tasks_opts_set(&o, "difficulty", "0", &e) != 0 && strstr(e.msg, "--difficulty"), "difficulty 0: %s", e.msg);
    CHECK(tasks_opts_set(&o, "difficulty", "6", &e) != 0, "difficulty 6");
    CHECK(tasks_opts_set(&o, "difficulty", "4-2", &e) != 0 && strstr(e.msg, "empty"), "difficulty 4-2: %s", e.msg);
    CHECK(tasks_opts_set(&o, "difficulty", "1-x", &e) != 0, "difficulty 1-x");
    CHECK(tasks_opts_set(&o, "split", "heldout", &e) == 0 && o.split == SPLIT_HELDOUT, "split heldout");
    CHECK(tasks_opts_set(&o, "split", "test", &e) != 0 && strstr(e.msg, "'test'"), "split test: %s", e.msg);
    CHECK(tasks_opts_set(&o, "heldout-pct", "0", &e) != 0 && tasks_opts_set(&o, "heldout-pct", "100", &e) != 0, "heldout-pct bounds");
    CHECK(tasks_opts_set(&o, "count", "10K", &e) == 0 && o.count == 10000, "count 10K");
    CHECK(tasks_opts_set(&o, "count", "ten", &e) != 0 && strstr(e.msg, "--count"), "count ten: %s", e.msg);
    CHECK(tasks_opts_set(&o, "count", "0", &e) != 0, "count 0");
    CHECK(tasks_opts_set(&o, "seed", "-1", &e) != 0, "negative seed");
    CHECK(tasks_opts_set(&o, "filler-pct", "91", &e) != 0, "filler 91");
    CHECK(tasks_opts_set(&o, "shard-records", "1M", &e) == 0 && o.shard_records == 1000000, "shard-records");
    CHECK(tasks_opts_set(&o, "colour", "red", &e) != 0 && strstr(e.msg, "--colour"), "unknown option: %s", e.msg);
    o.min_difficulty = 4;
    o.max_difficulty = 2;
    CHECK(tasks_opts_check(&o, &e) != 0, "inconsistent difficulty rejected");
    tasks_stream s;
    CHECK(tasks_stream_init(&s, &o, &e) != 0, "stream refuses bad options");
}

// ---- speed ---------------------------------------------------------------------------------------

static void test_speed(void) {
    for (int split = 0; split <= 1; split++) {
        tasks_opts o = opts(TASKS_ALL_KINDS, 1, 5, (uint32_t)split, 3, 0);
        tasks_stream s;
        berr e;
        tasks_stream_init(&s, &o, &e);
        int n = split ? 20000 : 100000, made = 0;
        double t0 = now_sec();
        for (int i = 0; i < n; i++) {
            problem_rec p;
            if (tasks_stream_next(&s, &p, &e)) break;
            problem_free(&p);
            made++;
        }
        double dt = now_sec() - t0;
        tasks_stream_free(&s);
        printf("speed: %.0f %s problems/s (all kinds, difficulty 1-5, one core)\n", made / dt, split ? "held-out" : "train");
        CHECK(made == n && made / dt > (split ? 3000 : 30000), "generation too slow or stopped: %d of %d problems, %.0f problems/s",
              made, n, made / dt);
    }
}

int main(void) {
    test_options();
    test_determinism();
    test_splits();
    test_difficulty();
    test_reference_solutions();
    test_corpus();
    test_speed();
    return test_summary();
}
