# Every channel two concurrent candidates could share through files both can read or the
# kernel: file locks (flock, POSIX, OFD), directory notifications, process-shared futexes on
# a file mapping, the times of a device, page-cache probes, the global process count. Each
# must be refused; the errnos come back.
import ctypes
import errno
import fcntl
import mmap
import os
import struct

libc = ctypes.CDLL(None, use_errno=True)


def err(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return e.errno


def sys_errno(*args):
    r = libc.syscall(*args)
    return ctypes.get_errno() if r == -1 else 0


def f():
    fd = os.open("/etc/ld.so.cache", os.O_RDONLY)
    out = [err(lambda: fcntl.flock(fd, fcntl.LOCK_SH)),
           err(lambda: fcntl.lockf(fd, fcntl.LOCK_SH)),
           err(lambda: fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))),
           err(lambda: fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0))),  # F_OFD_SETLK
           err(lambda: fcntl.fcntl(os.open("/usr/lib", os.O_RDONLY), fcntl.F_NOTIFY, fcntl.DN_ACCESS))]
    m = mmap.mmap(fd, 4096, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    addr = ctypes.addressof(ctypes.c_char.from_buffer_copy(m[:1]))  # any address: the call is refused first
    out.append(sys_errno(202, addr, 1, 1, 0, 0, 0))  # futex(FUTEX_WAKE), not private
    out.append(err(lambda: os.utime("/dev/null")))
    buf = ctypes.create_string_buffer(4096)
    out.append(sys_errno(27, ctypes.addressof(buf) & ~4095, 4096, ctypes.addressof(buf)))  # mincore
    out.append(sys_errno(99, ctypes.addressof(buf)))  # sysinfo
    out.append(err(lambda: os.preadv(fd, [bytearray(8)], 0, os.RWF_NOWAIT)))
    return out
