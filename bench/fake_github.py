#!/usr/bin/env python3
"""A fake GitHub API for the benchmarks, on 127.0.0.1 only.

Answers `POST /repos/{owner}/{repo}/dispatches` with 204 No Content after an optional
delay, and any other request with 200 `{}`. Every request is appended as one JSON line
to --log, with CLOCK_MONOTONIC timestamps in nanoseconds (system-wide on Linux, so the
bench harness can compare them with its own clock):

    t_accept   the TCP connection was accepted
    t_first    the first byte of the connection arrived (for TLS: the ClientHello)
    t_arrive   the request line, headers and body had been read
    t_done     the answer had been written (after --delay-ms)

With --tls CERT KEY it speaks HTTPS. A TLS handshake the client aborts (an untrusted
certificate) is logged too, with `"tls_error"`, so the time to the ClientHello can still be
measured.

Prints the port it listens on as the first line of stdout, then serves until killed.
"""

import argparse
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def now():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Ten targets connect at once; the default backlog of 5 could drop a SYN (1 s retry).
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr, handler, log_path, delay_ms, tls_context):
        super().__init__(addr, handler)
        self.log_path = log_path
        self.delay = delay_ms / 1000.0
        self.tls_context = tls_context
        self.lock = threading.Lock()
        self.accepted = {}

    def get_request(self):
        sock, addr = self.socket.accept()
        t = now()
        with self.lock:
            self.accepted[addr] = t
        return sock, addr

    def record(self, item):
        line = json.dumps(item, sort_keys=True) + "\n"
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line)

    def handle_error(self, request, client_address):
        # A client that hangs up (an aborted TLS handshake) is not worth a traceback.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-github/1"

    def setup(self):
        with self.server.lock:
            self.t_accept = self.server.accepted.pop(self.client_address, now())
        try:
            self.request.recv(1, socket.MSG_PEEK)
        except OSError:
            pass
        self.t_first = now()
        if self.server.tls_context is not None:
            try:
                self.request = self.server.tls_context.wrap_socket(
                    self.request, server_side=True
                )
            except (ssl.SSLError, OSError) as err:
                self.server.record(
                    {
                        "tls_error": str(err)[:200],
                        "t_accept": self.t_accept,
                        "t_first": self.t_first,
                    }
                )
                raise
        super().setup()

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def _handle(self, method):
        raw = self._body()
        t_arrive = now()
        sha = None
        try:
            payload = json.loads(raw or b"{}")
            sha = (payload.get("client_payload") or {}).get("sha")
        except (ValueError, AttributeError):
            pass
        is_dispatch = method == "POST" and self.path.endswith("/dispatches")
        if is_dispatch and self.server.delay:
            time.sleep(self.server.delay)
        self._answer(204 if is_dispatch else 200, b"" if is_dispatch else b"{}")
        self.server.record(
            {
                "method": method,
                "path": self.path,
                "ua": self.headers.get("User-Agent", ""),
                "sha": sha,
                "t_accept": self.t_accept,
                "t_first": self.t_first,
                "t_arrive": t_arrive,
                "t_done": now(),
            }
        )

    def do_POST(self):
        self._handle("POST")

    def do_GET(self):
        self._handle("GET")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True, help="JSON-lines file of requests")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
    server = Server(("127.0.0.1", args.port), Handler, args.log, args.delay_ms, context)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
