// sandbox_harness.c — embeds verify/sandbox_harness.py in the binary as sb_harness_py (a
// NUL-terminated string), so the verify executable needs no file next to it. The build
// rule in verify/build.mk makes this object depend on the .py file.
__asm__(".section .rodata\n"
        ".global sb_harness_py\n"
        ".type sb_harness_py, @object\n"
        ".balign 16\n"
        "sb_harness_py:\n"
        ".incbin \"verify/sandbox_harness.py\"\n"
        ".byte 0\n"
        ".size sb_harness_py, . - sb_harness_py\n"
        ".previous\n");
