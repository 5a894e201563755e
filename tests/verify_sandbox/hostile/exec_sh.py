# Replaces itself with a shell.
import os


def f():
    os.execv("/bin/sh", ["sh", "-c", "echo pwned > @TMPFILE@"])
