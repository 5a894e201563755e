# Connects to a unix socket the host listens on.
import socket


def f():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("@UNIXSOCK@")
    return "connected"
