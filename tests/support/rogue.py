"""A rogue listener for tests: it answers in plaintext, as an agent without
TLS (or anything else posing as one) would, and keeps every byte a client
sends it, so that a test can check no password reached it."""

import socket
import threading


def plaintext_rogue():
    """Listens on 127.0.0.1 for one connection; returns (its host:port,
    received()), received() waiting for the connection to end and returning
    every byte the client sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve():
        conn, _ = listener.accept()
        conn.settimeout(10)
        with conn:
            try:
                received.extend(conn.recv(65536))
                conn.sendall(b"\x00\x00\x00\x05hello")
                while chunk := conn.recv(65536):
                    received.extend(chunk)
            except OSError:
                pass
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def result():
        thread.join(timeout=20)
        return bytes(received)

    return "127.0.0.1:%d" % listener.getsockname()[1], result
