# An x32-ABI system call number (getpid | __X32_SYSCALL_BIT), which must not slip past the
# x86_64 filter.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)


def f():
    return libc.syscall(0x40000000 | 39)
