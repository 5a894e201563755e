# Signals every process it can reach.
import os
import signal


def f():
    os.kill(-1, signal.SIGKILL)
    return 1
