#!/usr/bin/env python3
"""A fake GitHub API for the benchmarks, on 127.0.0.1 only.

Answers `POST /repos/{owner}/{repo}/dispatches` (and a workflow's `.../dispatches`) with
204 No Content after an optional delay, simulates the GitHub Actions endpoints the
follower reads (below), answers `GET /user` with a login and `GET /repos/{o}/{r}/pages`
with a Pages site (the follower asks it after a success), and any other request with 200
`{}`. Every request is appended as one JSON line to --log, with CLOCK_MONOTONIC
timestamps in nanoseconds (system-wide on Linux, so the bench harness can compare them
with its own clock):

    t_accept   the TCP connection was accepted
    t_first    the first byte of the connection arrived (for TLS: the ClientHello)
    t_arrive   the request line, headers and body had been read
    t_done     the answer had been written (after --delay-ms)

plus `status` (the answer's code: 304s cost no primary rate limit), `tok` (the first 12
hex digits of the sha256 of the bearer token, so the harness can tell its clones apart),
`inm` (whether If-None-Match was sent) and `dispatch_id` (for a dispatch).

GitHub Actions, simulated: a dispatch to a repository starts one run of its workflow,
"Build site". The workflow has the `run-name` line (`git dispatch doctor` prints it), so a
repository_dispatch run's `display_title` is "<event_type> <dispatch_id>", unless the
repository is given with --no-run-name (then the title is the workflow's name). The run
is `queued` for --queue-ms, then `in_progress`, and `completed` --build-ms after it was
created (per repository: --build REPO=MS[:CONCLUSION]); filtered lists show it only
--lag-ms after it was created, as GitHub's lag. With --forget-ms a completed run drops
out of lists that long after it ended: not what GitHub does, but the push benchmarks
send about 150 dispatches a minute to one repository, and a list of that many runs is
more than the follower reads of an answer (64 KiB, src/api.rs), so it would never find
its run there. Each run is logged once when created, as
a line with `"run"` (its id) and the CLOCK_MONOTONIC instants `t_created`, `t_started`,
`t_end` (when its status becomes completed), so the harness knows when it ended.

    GET /repos/{o}/{r}/actions/runs?event=E&created=>=T&per_page=N   newest first
    GET /repos/{o}/{r}/actions/workflows/{file}/runs?...              the same, one workflow
    GET /repos/{o}/{r}/actions/runs/{id}                              404 if unknown
    GET /repos/{o}/{r}/actions/runs/{id}/attempts/{n}/jobs            build + deploy jobs

Runs and lists carry an ETag; a request whose If-None-Match equals it gets 304 and no
body. --seed REPO=COUNT:MS starts COUNT runs at start-up (ids from 1001, titles
"update gd-seed-K"), in progress and ending MS later: the runs of records written by hand.

With --tls CERT KEY it speaks HTTPS. A TLS handshake the client aborts (an untrusted
certificate) is logged too, with `"tls_error"`, so the time to the ClientHello can still be
measured.

Prints the port it listens on as the first line of stdout, then serves until killed.
"""

import argparse
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORKFLOW_NAME = "Build site"
WORKFLOW_FILE = "build.yml"
WORKFLOW_ID = 101
FIRST_RUN_ID = 1001
LOGIN = "bench"


def now():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def iso(wall):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def token_tag(token):
    """What the log keeps of a bearer token: enough to tell clones apart, not the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12] if token else ""


class Actions:
    """The simulated runs. Times: CLOCK_MONOTONIC ns for states, wall clock for GitHub's
    timestamps (GitHub's clock is this machine's here)."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.runs = []
        self.build_ms = args.build_ms
        self.queue_ms = args.queue_ms
        self.lag_ms = args.lag_ms
        self.forget_ms = args.forget_ms
        self.conclusion = args.conclusion
        self.per_repo = {}
        for spec in args.build or []:
            repo, _, rest = spec.partition("=")
            ms, _, conclusion = rest.partition(":")
            self.per_repo[repo] = (float(ms), conclusion or args.conclusion)
        self.no_run_name = set(args.no_run_name or [])

    def start(self, repo, event, workflow_file, title, build_ms=None, conclusion=None):
        """A new run; its log line."""
        default_ms, default_conclusion = self.per_repo.get(
            repo, (self.build_ms, self.conclusion)
        )
        build_ms = default_ms if build_ms is None else build_ms
        conclusion = conclusion or default_conclusion
        t = now()
        wall = time.time()
        with self.lock:
            run = {
                "id": FIRST_RUN_ID + len(self.runs),
                "repo": repo,
                "event": event,
                "file": workflow_file,
                "title": title,
                "t_created": t,
                "wall_created": wall,
                "t_started": t + int(min(self.queue_ms, build_ms) * 1e6),
                "t_end": t + int(build_ms * 1e6),
                "t_listed": t + int(self.lag_ms * 1e6),
                "conclusion": conclusion,
            }
            self.runs.append(run)
        return {
            "run": run["id"],
            "repo": repo,
            "title": title,
            "event": event,
            "conclusion": conclusion,
            "t_created": run["t_created"],
            "t_started": run["t_started"],
            "t_end": run["t_end"],
        }

    def dispatched(self, repo, body, workflow_file=None):
        try:
            sent = json.loads(body or b"{}")
        except ValueError:
            return None
        if not isinstance(sent, dict):
            return None
        if workflow_file:
            return self.start(repo, "workflow_dispatch", workflow_file, WORKFLOW_NAME)
        payload = sent.get("client_payload") or {}
        dispatch_id = payload.get("dispatch_id") if isinstance(payload, dict) else None
        title = WORKFLOW_NAME
        if dispatch_id and repo not in self.no_run_name:
            title = f"{sent.get('event_type', '')} {dispatch_id}"
        return self.start(repo, "repository_dispatch", WORKFLOW_FILE, title)

    @staticmethod
    def state(run, t):
        if t >= run["t_end"]:
            return "completed", run["conclusion"]
        if t >= run["t_started"]:
            return "in_progress", None
        return "queued", None

    def run_json(self, run, t):
        status, conclusion = self.state(run, t)
        created = run["wall_created"]

        def wall(mono_ns):
            return created + (mono_ns - run["t_created"]) / 1e9

        if status == "completed":
            updated = wall(run["t_end"])
        elif status == "in_progress":
            updated = wall(run["t_started"])
        else:
            updated = created
        html = f"https://github.com/{run['repo']}/actions/runs/{run['id']}"
        value = {
            "id": run["id"],
            "name": WORKFLOW_NAME,
            "display_title": run["title"],
            "event": run["event"],
            "status": status,
            "conclusion": conclusion,
            "workflow_id": WORKFLOW_ID,
            "path": f".github/workflows/{run['file']}",
            "run_attempt": 1,
            "run_number": run["id"] - FIRST_RUN_ID + 1,
            "head_branch": "main",
            "head_sha": "0123456789abcdef0123456789abcdef01234567",
            "html_url": html,
            "url": f"https://api.github.com/repos/{run['repo']}/actions/runs/{run['id']}",
            "jobs_url": f"https://api.github.com/repos/{run['repo']}/actions/runs/{run['id']}/jobs",
            "actor": {"login": LOGIN},
            "triggering_actor": {"login": LOGIN},
            "created_at": iso(created),
            "run_started_at": iso(wall(min(run["t_started"], t)) if status != "queued" else created),
            "updated_at": iso(updated),
        }
        return value, f'W/"{run["id"]}-{status}-{conclusion or ""}"'

    def find(self, repo, run_id):
        with self.lock:
            return next(
                (r for r in self.runs if r["repo"] == repo and str(r["id"]) == run_id), None
            )

    def get(self, repo, rest, query):
        """(status, value, etag) for GET /repos/{repo}/actions/{rest...}."""
        t = now()
        q = parse_qs(query)
        if rest == ["runs"] or (len(rest) == 3 and rest[0] == "workflows" and rest[2] == "runs"):
            workflow_file = rest[1] if len(rest) == 3 else None
            event = (q.get("event") or [None])[0]
            since = (q.get("created") or [""])[0]
            if since and not since.startswith(">="):
                return 422, {"message": "Validation Failed: created"}, ""
            since = since[2:]
            if since and not (len(since) == 20 and since.endswith("Z")):
                return 422, {"message": "Validation Failed: created"}, ""
            per_page = int((q.get("per_page") or ["30"])[0])
            with self.lock:
                runs = [
                    r
                    for r in self.runs
                    if r["repo"] == repo
                    and (workflow_file is None or r["file"] == workflow_file)
                    and (event is None or r["event"] == event)
                    and t >= r["t_listed"]
                    and (self.forget_ms is None or t < r["t_end"] + self.forget_ms * 1e6)
                    and (not since or iso(r["wall_created"]) >= since)
                ]
            listed = [self.run_json(r, t) for r in reversed(runs)][:per_page]
            tag = hashlib.sha1("|".join(e for _, e in listed).encode()).hexdigest()[:16]
            value = {"total_count": len(runs), "workflow_runs": [v for v, _ in listed]}
            return 200, value, f'W/"list-{tag}"'
        if len(rest) == 2 and rest[0] == "runs":
            run = self.find(repo, rest[1])
            if run is None:
                return 404, {"message": "Not Found"}, ""
            value, tag = self.run_json(run, t)
            return 200, value, tag
        if len(rest) == 5 and rest[0] == "runs" and rest[2] == "attempts" and rest[4] == "jobs":
            run = self.find(repo, rest[1])
            if run is None or rest[3] != "1":
                return 404, {"message": "Not Found"}, ""
            value, _ = self.run_json(run, t)
            done = value["status"] == "completed"
            failed = done and run["conclusion"] not in ("success", "skipped", "neutral")
            steps = [{"name": "Set up job", "status": "completed", "conclusion": "success",
                      "number": 1}]
            if done:
                steps.append({"name": "Run build", "status": "completed",
                              "conclusion": "failure" if failed else "success", "number": 2})
            job = {
                "id": run["id"] * 10, "run_id": run["id"], "run_attempt": 1, "name": "build",
                "status": value["status"], "conclusion": run["conclusion"] if done else None,
                "html_url": f"https://github.com/{repo}/actions/runs/{run['id']}/job/{run['id'] * 10}",
                "steps": steps,
            }
            deploy = {
                "id": run["id"] * 10 + 1, "run_id": run["id"], "run_attempt": 1,
                "name": "deploy", "status": value["status"],
                "conclusion": "skipped" if done else None, "steps": [],
            }
            return 200, {"total_count": 2, "jobs": [deploy, job]}, ""
        return 404, {"message": "Not Found"}, ""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Ten targets connect at once; the default backlog of 5 could drop a SYN (1 s retry).
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr, handler, log_path, delay_ms, tls_context, actions):
        super().__init__(addr, handler)
        self.log_path = log_path
        self.delay = delay_ms / 1000.0
        self.tls_context = tls_context
        self.actions = actions
        self.lock = threading.Lock()
        self.accepted = {}
        self.counted = 0

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

    def _answer(self, status, body=b"", headers=()):
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in headers:
            self.send_header(name, value)
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
        sha = dispatch_id = None
        try:
            payload = json.loads(raw or b"{}")
            client_payload = payload.get("client_payload") or {}
            sha = client_payload.get("sha")
            dispatch_id = client_payload.get("dispatch_id")
        except (ValueError, AttributeError):
            pass
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        repo = "/".join(parts[1:3]) if len(parts) >= 3 and parts[0] == "repos" else None
        auth = self.headers.get("Authorization", "")
        token = auth.split(None, 1)[1] if " " in auth else auth
        headers = []
        run_line = None
        is_dispatch = method == "POST" and url.path.endswith("/dispatches")
        if method == "POST" and url.path.startswith("/build_hooks/"):
            # A Netlify-shaped deploy hook: 200 and nothing, as Netlify answers; the pushed
            # commit is known by the short sha in `trigger_title` ("content 3f2a9c1: …").
            title = (parse_qs(url.query).get("trigger_title") or [""])[0]
            words = title.split()
            sha = words[1].rstrip(":") if len(words) > 1 else None
            status, body = 200, b""
        elif is_dispatch:
            if self.server.delay:
                time.sleep(self.server.delay)
            workflow_file = None
            if len(parts) == 7 and parts[3:5] == ["actions", "workflows"]:
                workflow_file = parts[5]
            status, body = 204, b""
            if repo:
                run_line = self.server.actions.dispatched(repo, raw, workflow_file)
        elif method == "GET" and repo and len(parts) > 3 and parts[3] == "actions":
            status, value, etag = self.server.actions.get(repo, parts[4:], url.query)
            body = json.dumps(value).encode()
            if etag:
                headers.append(("ETag", etag))
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
        elif method == "GET" and url.path == "/user":
            status, body = 200, json.dumps({"login": LOGIN}).encode()
        elif method == "GET" and repo and parts[3:] == ["pages"]:
            owner, name = repo.split("/")
            site = {"url": f"https://api.github.com/repos/{repo}/pages", "status": "built",
                    "html_url": f"https://{owner}.github.io/{name}/", "build_type": "workflow"}
            status, body = 200, json.dumps(site).encode()
        else:
            status, body = 200, b"{}"
        with self.server.lock:
            if status != 304:
                self.server.counted += 1
            remaining = max(0, 5000 - self.server.counted)
        headers += [
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(int(time.time()) + 3600)),
        ]
        self._answer(status, body, headers)
        self.server.record(
            {
                "method": method,
                "path": self.path,
                "status": status,
                "ua": self.headers.get("User-Agent", ""),
                "tok": token_tag(token),
                "inm": self.headers.get("If-None-Match") is not None,
                "sha": sha,
                "dispatch_id": dispatch_id,
                "t_accept": self.t_accept,
                "t_first": self.t_first,
                "t_arrive": t_arrive,
                "t_done": now(),
            }
        )
        if run_line:
            self.server.record(run_line)

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
    parser.add_argument("--build-ms", type=float, default=0.0,
                        help="a run completes this long after it is created (0)")
    parser.add_argument("--queue-ms", type=float, default=0.0,
                        help="a run is queued this long before it is in_progress (0)")
    parser.add_argument("--lag-ms", type=float, default=0.0,
                        help="filtered lists show a run this long after it is created (0)")
    parser.add_argument("--forget-ms", type=float, default=None,
                        help="a completed run drops out of lists this long after it ended "
                        "(default: never, as on GitHub)")
    parser.add_argument("--conclusion", default="success")
    parser.add_argument("--build", action="append", metavar="REPO=MS[:CONCLUSION]",
                        help="how long REPO's runs take, and how they conclude")
    parser.add_argument("--no-run-name", action="append", metavar="REPO",
                        help="REPO's workflow lacks the run-name line")
    parser.add_argument("--seed", action="append", metavar="REPO=COUNT:MS",
                        help="COUNT runs of REPO in progress at start-up, ending MS later")
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
    actions = Actions(args)
    server = Server(("127.0.0.1", args.port), Handler, args.log, args.delay_ms, context, actions)
    for spec in args.seed or []:
        repo, _, rest = spec.partition("=")
        count, _, ms = rest.partition(":")
        for k in range(1, int(count) + 1):
            line = actions.start(repo, "repository_dispatch", WORKFLOW_FILE,
                                 f"update gd-seed-{k}", build_ms=float(ms))
            line["seeded"] = True
            server.record(line)
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
