# Ignores every catchable signal (including SIGXCPU) and spins.
import signal

for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1):
    signal.signal(s, signal.SIG_IGN)


def f():
    while True:
        pass
