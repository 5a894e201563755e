# Sends a UDP datagram to the host over loopback.
import socket


def f():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"pwned", ("127.0.0.1", @PORT@))
    return "sent"
