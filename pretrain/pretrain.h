// pretrain.h — the subcommands of build/bin/pretrain.
#pragma once
#include <stdio.h>

// Each takes argv with its options starting at argv[first] and returns the exit status.
int pt_train_main(int argc, char **argv, int first);
int pt_generate_main(int argc, char **argv, int first);
int pt_plot_main(int argc, char **argv, int first);
int pt_export_main(int argc, char **argv, int first);
