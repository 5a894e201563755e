// bench_loader.c — the pretraining data path alone: how fast one reader produces shuffled
// step batches (B×T rows, accum micro-steps) from token data, to compare with training speed.
//   bench_loader PATH B T ACCUM STEPS [memory]
// With "memory", the tokens are read into memory first (what pretrain does when they fit
// --data-memory), else every sequence is read from the shards.
#include <stdlib.h>

#include "pretrain/seq_feed.h"

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_loader PATH B T ACCUM STEPS [memory]\n");
        return 2;
    }
    int B = atoi(argv[2]), T = atoi(argv[3]), accum = atoi(argv[4]), steps = atoi(argv[5]);
    berr e;
    pt_tokens *src = pt_tokens_open(argv[1], &e);
    if (!src) die("%s", e.msg);
    uint64_t count = (src->n - 1) / (uint64_t)T, n = src->n;
    int mem = argc == 7;
    double tm = now_sec();
    if (mem && !(src = pt_tokens_in_memory(src, n, 65536, &e))) die("%s", e.msg);
    tm = now_sec() - tm;
    tr_loader *l = tr_loader_start(pt_seq_feed(src, 0, count, T, 1 << 24, 1, 0, 1, B, accum), accum, B, T, 0, 0);
    const tr_batch *b;
    double t0 = now_sec();
    for (int s = 0; s < steps; s++)
        if (tr_loader_next(l, &b, NULL, &e)) die("%s", e.msg);
    double dt = now_sec() - t0;
    double tokens = (double)steps * accum * B * T;
    printf("| %s | %llu | %s | %d×%d×%d | %.1f | %.3g |\n", argv[1], (unsigned long long)n,
           mem ? "memory" : "shards", B, T, accum, 1e3 * dt / steps, tokens / dt);
    if (mem) fprintf(stderr, "bench_loader: reading %llu tokens into memory took %.2f s\n", (unsigned long long)n, tm);
    tr_loader_stop(l);
    return 0;
}
