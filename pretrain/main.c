// main.c — build/bin/pretrain: train (the default), generate, plot.
#include <string.h>

#include "kernels/kernels.h"
#include "pretrain/pretrain.h"

static void usage(FILE *f) {
    fputs("usage: pretrain [train] OPTIONS         train a GPT-2 (pretraining or --sft); see pretrain train --help\n"
          "       pretrain generate OPTIONS        sample answers to problems into a candidate file\n"
          "       pretrain plot OPTIONS            loss curve of a run log as SVG\n"
          "       pretrain device                  the backend --backend auto picks here: cuda or cpu\n"
          "       pretrain --help                  this text and the training options\n",
          f);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "generate") == 0) return pt_generate_main(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "plot") == 0) return pt_plot_main(argc, argv, 2);
    if (argc > 1 && strcmp(argv[1], "train") == 0) return pt_train_main(argc, argv, 2);
    if (argc == 2 && strcmp(argv[1], "device") == 0) {
        puts(kb_default_backend() == KB_CUDA ? "cuda" : "cpu");
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        fputc('\n', stdout);
        pt_train_help(stdout);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        fprintf(stderr, "error: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (argc == 1) {
        usage(stderr);
        return 2;
    }
    return pt_train_main(argc, argv, 1);
}
