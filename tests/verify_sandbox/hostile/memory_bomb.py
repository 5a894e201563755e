# Grows a list of 10 MB blocks until the address-space limit stops it.
def f():
    blocks = []
    while True:
        blocks.append(bytearray(10 * 1000 * 1000))
