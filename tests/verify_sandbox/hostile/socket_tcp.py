# Connects to a TCP port the host listens on over loopback.
import socket


def f():
    s = socket.create_connection(("127.0.0.1", @PORT@), timeout=1)
    s.sendall(b"pwned")
    return "connected"
