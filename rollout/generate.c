// generate.c — independent samples on the rollout engine; see generate.h.
#include "rollout/generate.h"

#include <stdlib.h>
#include <string.h>

void ro_gen_config(ro_config *c, int samples, int max_new, float temperature, uint64_t seed, int32_t stop) {
    ro_config_default(c);
    c->roots = samples;
    c->fork = 1;
    c->depth = 0;
    c->max_new = max_new;
    c->temperature = temperature;
    c->seed = seed;
    c->eot = stop;
    c->step = c->answer = -1;  // no markers: nothing forks, no answer line ends a sample
}

void ro_gen_answer_free(ro_gen_answer *a, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(a[i].tok);
        free(a[i].lp);
        memset(&a[i], 0, sizeof a[i]);
    }
}

// Copies root k of a finished tree into its answer; the stop token (the engine keeps it as the
// node's last token) is dropped and flagged.
static void take_tree(const ro_config *c, const ro_result *r, ro_gen_answer *out) {
    for (int k = 0; k < c->roots; k++) {
        const traj_node *v = &r->tree.nodes[k];
        if (v->parent != TRAJ_ROOT) die("ro_generate: node %d of problem %llu is not a root", k, (unsigned long long)r->tree.problem_id);
        ro_gen_answer *a = &out[k];
        a->stopped = v->finish == FINISH_EOT && v->n_tokens > 0 && c->eot >= 0 && v->tokens[v->n_tokens - 1] == (uint32_t)c->eot;
        a->n = (int)v->n_tokens - a->stopped;
        a->tok = xmalloc(((size_t)a->n + 1) * sizeof *a->tok);
        a->lp = xmalloc(((size_t)a->n + 1) * sizeof *a->lp);
        for (int j = 0; j < a->n; j++) a->tok[j] = (int32_t)v->tokens[j];
        memcpy(a->lp, v->logprobs, (size_t)a->n * sizeof *a->lp);
    }
}

int ro_generate(ro_engine *E, const ro_gen_prompt *p, size_t n, ro_gen_answer *out, ro_gen_progress progress,
                void *arg, berr *e) {
    const ro_config *c = ro_config_of(E);
    if (c->depth != 0 || c->step >= 0 || c->answer >= 0 || c->force_step)
        return berr_set(e, "ro_generate: the engine forks or ends answers at markers; build it with ro_gen_config");
    if (ro_busy(E)) return berr_set(e, "ro_generate: the engine is busy");
    const size_t K = (size_t)c->roots;
    memset(out, 0, n * K * sizeof *out);
    size_t next = 0, done = 0;
    int rc = 0;
    while (done < n) {
        // Feed while the engine wants more; the user pointer carries the prompt's index.
        while (next < n && ro_wants(E)) {
            if (ro_add(E, p[next].id, p[next].tok, p[next].n, 0, (void *)(uintptr_t)(next + 1), e)) {
                rc = berr_wrap(e, "prompt %zu of %zu", next, n);
                break;
            }
            next++;
        }
        if (rc) break;
        ro_step(E);
        ro_result r;
        while (ro_take(E, &r)) {
            size_t i = (size_t)(uintptr_t)r.user - 1;
            take_tree(c, &r, out + i * K);
            ro_result_free(&r);
            done++;
            if (progress) progress(arg, done, n);
        }
    }
    if (rc) {
        // Let what was started finish, so the engine is idle again, then drop everything.
        while (ro_busy(E)) {
            ro_step(E);
            ro_result r;
            while (ro_take(E, &r)) ro_result_free(&r);
        }
        ro_gen_answer_free(out, n * K);
    }
    return rc;
}
