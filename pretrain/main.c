// main.c — build/bin/pretrain: train (the default), generate, plot, export, device.
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/train/cli.h"
#include "pretrain/pretrain.h"

static const cli_cmd device_cmd = {
    "pretrain device",
    "usage: pretrain device\n"
    "\n"
    "Prints the backend --backend auto picks on this machine: cuda (a GPU is present and the build has\n"
    "the CUDA backend) or cpu.\n",
    NULL, 0, NULL};

static int device_main(int argc, char **argv, int first) {
    int rc = cli_command(&device_cmd, NULL, argc, argv, first, NULL, NULL);
    if (rc != CLI_GO) return rc;
    puts(kb_default_backend() == KB_CUDA ? "cuda" : "cpu");
    return 0;
}

static const cli_sub subs[] = {
    {"train", pt_train_main, "train a GPT-2 (pretraining or --sft): checkpoints, log.jsonl, model.bin"},
    {"generate", pt_generate_main, "sample answers to problems into a candidate file (for verify check)"},
    {"plot", pt_plot_main, "the loss curve of a run log as SVG"},
    {"export", pt_export_main, "a model for other tools: a Hugging Face directory or an llm.c file"},
    {"device", device_main, "the backend --backend auto picks here: cuda or cpu"},
};

static const cli_prog prog = {"pretrain", NULL, subs, (int)(sizeof subs / sizeof subs[0]), 0};

int main(int argc, char **argv) { return cli_dispatch(&prog, argc, argv); }
