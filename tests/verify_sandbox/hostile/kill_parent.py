# Kills its parent (the template).
import os
import signal


def f():
    os.kill(os.getppid(), signal.SIGKILL)
    return 1
