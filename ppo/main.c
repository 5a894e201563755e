// main.c — build/bin/ppo: one PPO iteration over verified trajectory trees (ppo/README.md).
#include "ppo/ppo.h"

int main(int argc, char **argv) { return ppo_main(argc, argv, 1); }
