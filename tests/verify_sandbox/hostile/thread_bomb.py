# Starts sleeping threads until the process limit (RLIMIT_NPROC) refuses more.
import threading
import time


def f():
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
