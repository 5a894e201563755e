# Uses no CPU but sleeps past the wall-clock limit.
import time


def f():
    time.sleep(3600)
    return 1
