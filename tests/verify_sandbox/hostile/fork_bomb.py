# Forks without end: the candidate filter kills any clone without CLONE_THREAD.
import os


def f():
    while True:
        os.fork()
