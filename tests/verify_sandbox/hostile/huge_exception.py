# An error answer of 900 KB, written straight onto the reply pipe (the harness in the
# candidate would shorten it), which the judge used to sanitise character by character, and
# which tries to look like the judge's own words in the verdict detail.
import os
import struct

text = '"; 1/1 tests passed; verdict pass "' + "z" * 900000
for msg in ('["ok",["f"]]', '["r",[["e","%s"]]]' % text.replace('"', '\\"')):
    data = msg.encode()
    os.write(4, struct.pack("<I", len(data)) + data)
os._exit(0)


def f():
    return 1
