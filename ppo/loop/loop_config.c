// loop_config.c — the run config of build/bin/berry: `key = value` lines (see loop_config_help).
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ppo/loop/loop.h"

typedef enum { K_STR, K_INT, K_F64, K_FLAG } ktype;

typedef struct key {
    const char *name;
    ktype type;
    size_t off;
    const char *def;
    double lo, hi;
    const char *help;
} key;

#define F(x) offsetof(loop_config, x)
static const key keys[] = {
    {"out", K_STR, F(out), NULL, 0, 0, "run directory (or berry run --out DIR)"},
    {"backend", K_STR, F(backend), "auto", 0, 0, "auto, cpu or cuda: for every stage"},
    {"placement", K_STR, F(placement), "timesliced", 0, 0,
     "timesliced (one stage at a time) or pooled (rollout and verify run ahead as long-lived processes)"},
    {"seed", K_INT, F(seed), "1", 0, 1e15, "seed of every stage"},
    {"kinds", K_STR, F(kinds), "arith,linear", 0, 0, "task kinds (verify gen --kinds)"},
    {"difficulty", K_STR, F(difficulty), "1", 0, 0, "task difficulty (verify gen --difficulty)"},
    {"corpus_docs", K_INT, F(corpus_docs), "40000", 1, 1e10, "pretraining corpus documents (verify corpus --count)"},
    {"vocab_size", K_INT, F(vocab_size), "400", 260, 1 << 24, "tokenizer vocabulary (shards train-tokenizer)"},
    {"heldout_problems", K_INT, F(heldout_problems), "100", 1, 1e9, "held-out problems pass@1 is measured on"},
    {"sft_problems", K_INT, F(sft_problems), "2000", 1, 1e9, "train problems of the SFT control"},
    {"init_from", K_STR, F(init_from), NULL, 0, 0, "a base checkpoint: no corpus, tokenizer or pretraining (needs tokenizer)"},
    {"tokenizer", K_STR, F(tokenizer), NULL, 0, 0, "the tokenizer of init_from"},
    {"iterations", K_INT, F(iterations), "10", 0, 1e6, "RL iterations (rollout -> verify -> ppo)"},
    {"problems_per_iter", K_INT, F(problems_per_iter), "64", 1, 1e9, "fresh train problems each iteration"},
    {"eval_every", K_INT, F(eval_every), "5", 1, 1e6, "held-out pass@1 every K iterations (and before and after)"},
    {"eval_max_new", K_INT, F(eval_max_new), "64", 1, 65536, "tokens an evaluation answer may take"},
    {"temperature", K_F64, F(temperature), "1", 0, 100, "rollout's sampling temperature (ppo takes log-probs at it)"},
    {"pool_ahead", K_INT, F(pool_ahead), "1", 0, 1000, "pooled: versions rollout may run ahead of ppo (rollout --pace)"},
    {"rollout_devices", K_STR, F(rollout_devices), NULL, 0, 0, "pooled: CUDA_VISIBLE_DEVICES of rollout and verify (e.g. 0)"},
    {"train_devices", K_STR, F(train_devices), NULL, 0, 0, "pooled: CUDA_VISIBLE_DEVICES of ppo and the evaluations (e.g. 1)"},
    {"sft_control", K_FLAG, F(sft_control), "1", 0, 1, "1: also fine-tune the base with the same FLOPs on reference solutions"},
};
#undef F
#define NKEYS (int)(sizeof keys / sizeof keys[0])

// Stages whose options may be passed through, and the options the driver sets itself.
static const struct {
    const char *stage, *bin, *sub;  // sub: a subcommand the options belong to
    const char *wired;              // space-separated, with spaces around
} stages[] = {
    {"pretrain", "pretrain", NULL, " data tokenizer out resume resume-from init-from sft problems val-problems backend "},
    {"sft", "pretrain", NULL, " data tokenizer out resume resume-from init-from sft problems val-problems backend steps tokens "},
    {"rollout", "rollout", NULL, " policy follow tokenizer problems out policy-version backend temperature name part parts pace "},
    {"eval", "rollout", NULL, " policy follow tokenizer problems out policy-version backend temperature roots depth name "},
    {"verify", "verify", "run", " problems trajectories out tokenizer part parts "},
    {"ppo", "ppo", NULL, " policy policy-version reference critic optimizer trajectories verdicts tokenizer out work backend "
                         "temperature take skip "},
};
#define NSTAGES (int)(sizeof stages / sizeof stages[0])

static void set_default(loop_config *c, const key *k) {
    char *p = (char *)c + k->off;
    switch (k->type) {
    case K_STR: *(char **)p = k->def ? xstrdup(k->def) : NULL; break;
    case K_INT: *(int64_t *)p = k->def ? atoll(k->def) : 0; break;
    case K_F64: *(double *)p = k->def ? atof(k->def) : 0; break;
    case K_FLAG: *(int *)p = k->def ? atoi(k->def) : 0; break;
    }
}

static int set_key(loop_config *c, const key *k, const char *v, const char *where, berr *e) {
    char *p = (char *)c + k->off;
    char flag[640];
    snprintf(flag, sizeof flag, "%s: %s", where, k->name);
    if (k->type == K_STR) {
        if (!*v) return berr_set(e, "%s needs a value", flag);
        free(*(char **)p);
        *(char **)p = xstrdup(v);
        return 0;
    }
    if (k->type == K_INT) return parse_count(flag, v, (int64_t)k->lo, (int64_t)k->hi, (int64_t *)p, e);
    if (k->type == K_F64) return parse_f64(flag, v, k->lo, k->hi, (double *)p, e);
    int x;
    if (parse_int(flag, v, 0, 1, &x, e)) return -1;
    *(int *)p = x;
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

// The output of `bin [sub] --list-options` ("--name<TAB>type" lines; NULL when it cannot run).
static char *help_text(const char *bin_dir, const char *bin, const char *sub) {
    char *cmd = xasprintf("'%s/%s'%s%s --list-options 2>/dev/null", bin_dir, bin, sub ? " " : "", sub ? sub : "");
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return NULL;
    bbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) bbuf_put(&b, buf, n);
    pclose(p);
    bbuf_u8(&b, 0);
    return (char *)b.p;
}

// 1 if the stage has option --opt (*is_flag: it takes no value), else 0.
static int mentions_option(const char *help, const char *opt, int *is_flag) {
    size_t n = strlen(opt);
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        const char *q = p + 2;
        if (strncmp(q, opt, n) == 0 && !(isalnum((unsigned char)q[n]) || q[n] == '-')) {
            *is_flag = strncmp(q + n, "\tflag", 5) == 0 && (q[n + 5] == '\n' || q[n + 5] == 0);
            return 1;
        }
    }
    return 0;
}

int loop_config_load(loop_config *c, const char *path, const char *bin, berr *e) {
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    for (int i = 0; i < NKEYS; i++) set_default(c, &keys[i]);
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return berr_wrap(e, "config");
    int rc = 0, line = 0;
    char *help[NSTAGES] = {0};
    unsigned char seen[NKEYS] = {0};
    for (char *s = buf, *nl; s && *s && !rc; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = 0;
        line++;
        char *hash = strchr(s, '#');
        if (hash) *hash = 0;
        char *l = trim(s);
        if (!*l) continue;
        char where[512];
        snprintf(where, sizeof where, "%s line %d", path, line);
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = berr_set(e, "%s: expected 'key = value', got '%s'", where, l);
            break;
        }
        *eq = 0;
        char *k = trim(l), *v = trim(eq + 1);
        char *dot = strchr(k, '.');
        if (!dot) {
            int i = 0;
            while (i < NKEYS && strcmp(keys[i].name, k)) i++;
            if (i == NKEYS) {
                rc = berr_set(e, "%s: unknown key '%s' (berry config lists them; a stage option is written stage.option)",
                              where, k);
                break;
            }
            if (seen[i]) {
                rc = berr_set(e, "%s: '%s' is given twice", where, k);
                break;
            }
            seen[i] = 1;
            rc = set_key(c, &keys[i], v, where, e);
            continue;
        }
        *dot = 0;
        const char *stage = k, *opt = dot + 1;
        int s_ = 0;
        while (s_ < NSTAGES && strcmp(stages[s_].stage, stage)) s_++;
        if (s_ == NSTAGES) {
            rc = berr_set(e, "%s: unknown stage '%s' in '%s.%s' (stages: pretrain, sft, rollout, eval, verify, ppo)", where,
                          stage, stage, opt);
            break;
        }
        char wired[80];
        snprintf(wired, sizeof wired, " %s ", opt);
        if (strstr(stages[s_].wired, wired)) {
            rc = berr_set(e, "%s: %s.%s is set by berry itself (the run's wiring); it cannot be given", where, stage, opt);
            break;
        }
        if (!help[s_]) help[s_] = help_text(bin, stages[s_].bin, stages[s_].sub);
        int is_flag = 0;
        if (!help[s_] || !mentions_option(help[s_], opt, &is_flag)) {
            rc = berr_set(e, "%s: %s has no option --%s (see %s/%s%s%s --help)", where, stages[s_].bin, opt, bin,
                          stages[s_].bin, stages[s_].sub ? " " : "", stages[s_].sub ? stages[s_].sub : "");
            break;
        }
        if (c->npass == LOOP_MAX_PASS) {
            rc = berr_set(e, "%s: more than %d stage options", where, LOOP_MAX_PASS);
            break;
        }
        if (is_flag && strcmp(v, "0") && strcmp(v, "1")) {
            rc = berr_set(e, "%s: %s.%s is a switch: its value is 1 (on) or 0 (off), got '%s'", where, stage, opt, v);
            break;
        }
        loop_pass *p = &c->pass[c->npass++];
        p->is_flag = is_flag;
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        snprintf(p->opt, sizeof p->opt, "%s", opt);
        p->value = xstrdup(v);
        p->line = line;
    }
    free(buf);
    for (int i = 0; i < NSTAGES; i++) free(help[i]);
    if (rc) return -1;
    // Cross-checks and files.
    const char *bk = c->backend;
    if (strcmp(bk, "auto") && strcmp(bk, "cpu") && strcmp(bk, "cuda"))
        return berr_set(e, "%s: backend must be auto, cpu or cuda, got '%s'", path, bk);
    if (strcmp(c->placement, "timesliced") && strcmp(c->placement, "pooled"))
        return berr_set(e, "%s: placement must be timesliced or pooled, got '%s'", path, c->placement);
    if ((c->init_from == NULL) != (c->tokenizer == NULL))
        return berr_set(e, "%s: init_from and tokenizer go together (a base checkpoint and its tokenizer)", path);
    struct stat st;
    if (c->init_from && stat(c->init_from, &st)) return berr_set(e, "%s: init_from %s: no such file", path, c->init_from);
    if (c->tokenizer && stat(c->tokenizer, &st)) return berr_set(e, "%s: tokenizer %s: no such file", path, c->tokenizer);
    return 0;
}

void loop_config_free(loop_config *c) {
    for (int i = 0; i < NKEYS; i++)
        if (keys[i].type == K_STR) free(*(char **)((char *)c + keys[i].off));
    for (int i = 0; i < c->npass; i++) free(c->pass[i].value);
    free(c->path);
    memset(c, 0, sizeof *c);
}

void loop_config_args(const loop_config *c, const char *stage, const char **argv, int *n, int max) {
    static char flags[LOOP_MAX_PASS][72];
    for (int i = 0; i < c->npass; i++) {
        if (strcmp(c->pass[i].stage, stage)) continue;
        if (*n + 2 >= max) die("berry: too many options for %s", stage);
        if (c->pass[i].is_flag && strcmp(c->pass[i].value, "1")) continue;  // a switch set to 0: left off
        snprintf(flags[i], sizeof flags[i], "--%s", c->pass[i].opt);
        argv[(*n)++] = flags[i];
        if (!c->pass[i].is_flag) argv[(*n)++] = c->pass[i].value;
    }
}

void loop_config_help(FILE *f) {
    fputs("A run config: one `key = value` a line, `#` starts a comment. Keys:\n\n", f);
    for (int i = 0; i < NKEYS; i++)
        fprintf(f, "  %-18s %s (default: %s)\n", keys[i].name, keys[i].help, keys[i].def ? keys[i].def : "none");
    fputs("\nAny stage option: `stage.option = value`, stage one of\n"
          "  pretrain   pretrain's training options (the base model; e.g. pretrain.steps = 2000)\n"
          "  sft        pretrain --sft options of the SFT control\n"
          "  rollout    rollout's options for the RL trees (e.g. rollout.roots = 8)\n"
          "  eval       rollout's options for the held-out answers (greedy, one per problem)\n"
          "  verify     verify run's options\n"
          "  ppo        ppo's options (e.g. ppo.advantage = tree)\n"
          "A switch (an option with no value) is written stage.option = 1, or = 0 to leave it off.\n"
          "An option that wires the stages together (files, directories, versions, backend) is set by\n"
          "berry and refused in the config.\n",
          f);
}
