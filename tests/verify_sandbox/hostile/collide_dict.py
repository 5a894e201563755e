# A dict whose 15000 keys are 1-tuples of ints that all hash to 0: the tuples' hashes
# collide as well. Written straight onto the reply pipe.
import os
import struct

P = (1 << 61) - 1
items = ",".join('[["t",[["i","%s"]]],null]' % hex(k * P) for k in range(1, 15001))
for text in ('["ok",["f"]]', '["r",[["v",["d",[%s]]]]]' % items):
    data = text.encode()
    os.write(4, struct.pack("<I", len(data)) + data)
os._exit(0)


def f():
    return {}
