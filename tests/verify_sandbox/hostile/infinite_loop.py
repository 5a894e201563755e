# Spins until the CPU limit ends it.
def f():
    n = 0
    while True:
        n += 1
