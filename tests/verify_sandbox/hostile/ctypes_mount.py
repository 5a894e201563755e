# A raw system call through ctypes: mount(2) of a tmpfs.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)


def f():
    return libc.syscall(165, b"none", b"/scratch", b"tmpfs", 0, None)
