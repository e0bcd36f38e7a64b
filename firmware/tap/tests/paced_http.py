# A one-file HTTP server that sends the body in pieces with pauses between them, for tests
# that need a slow but healthy server, a stalled one, or a quiet moment mid-body.
# Usage: paced_http.py HOST PORT FILE PIECE_BYTES PAUSE_S
# Serves FILE (Content-Length) to each connection in turn, PIECE_BYTES at a time, sleeping
# PAUSE_S between pieces; prints `listening` once ready.
import socket
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
piece, pause = int(sys.argv[4]), float(sys.argv[5])
body = open(path, 'rb').read()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(4)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
                  % len(body))
        for at in range(0, len(body), piece):
            if at:
                time.sleep(pause)
            c.sendall(body[at:at + piece])
    except OSError:
        pass
    c.close()
