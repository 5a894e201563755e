# The densest answer within the reply budget: just under 1 MB of empty lists (each 9 bytes
# on the wire, ~20x that as objects in the judge). The judge must decode it within bounded
# memory and give the memory back afterwards.
import os
import struct

items = ",".join(['["l",[]]'] * 110000)
for text in ('["ok",["f"]]', '["r",[["v",["l",[%s]]]]]' % items):
    data = text.encode()
    os.write(4, struct.pack("<I", len(data)) + data)
os._exit(0)


def f():
    return []
