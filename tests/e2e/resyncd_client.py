# A resyncd client written the way a storage appliance would: the standard
# library's http.client over the Unix socket, JSON in and out, polling a
# job's record until it ends.  Imported by the daemon-*.sh scripts.
import http.client
import json
import os
import socket
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("resyncd", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Client:
    def __init__(self, path=None):
        self.path = path or os.environ["RESYNCD_SOCK"]

    def call(self, method, url, body=None):
        """(HTTP status, headers, decoded JSON or text) of one request."""
        conn = UnixHTTPConnection(self.path)
        try:
            data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, url, body=data, headers=hdrs)
            r = conn.getresponse()
            raw = r.read().decode()
            ctype = r.getheader("Content-Type", "")
            return r.status, dict(r.getheaders()), json.loads(raw) if ctype.startswith("application/json") else raw
        finally:
            conn.close()

    def expect(self, status, rv, method, url, body=None):
        got, hdrs, out = self.call(method, url, body)
        if got != status or out.get("ReturnValue") != rv:
            raise AssertionError(f"{method} {url}: HTTP {got} {out}, want {status} ReturnValue {rv}")
        return hdrs, out

    def wait_job(self, job_url, timeout=120):
        """Polls GET job_url until the job ends; its record."""
        deadline = time.monotonic() + timeout
        while True:
            _, _, out = self.call("GET", job_url)
            job = out["Job"]
            if job["JobState"] in (7, 8, 9, 10):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"{job_url} still in JobState {job['JobState']} after {timeout} s")
            time.sleep(0.1)


class EventStream:
    """GET /v1/events read as an appliance would: one event at a time, each
    a dict with "id" (int), "event" and "data" (decoded JSON); keepalive
    comments skipped."""

    def __init__(self, path=None, query="", last_event_id=None, timeout=60):
        self.conn = UnixHTTPConnection(path or os.environ["RESYNCD_SOCK"], timeout=timeout)
        hdrs = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            hdrs["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/events" + query, headers=hdrs)
        self.r = self.conn.getresponse()
        ctype = self.r.getheader("Content-Type", "")
        if self.r.status != 200 or ctype != "text/event-stream":
            raise AssertionError(f"GET /v1/events{query}: HTTP {self.r.status} {ctype}: {self.r.read()!r}")

    def next(self):
        """The next event, or None at the end of the stream."""
        ev = {}
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if ev:
                    return ev
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            ev[key] = int(value) if key == "id" else json.loads(value) if key == "data" else value

    def until(self, pred):
        """Events up to and including the first for which pred is true."""
        got = []
        while True:
            ev = self.next()
            if ev is None:
                raise AssertionError(f"stream ended before the event waited for; got {got}")
            got.append(ev)
            if pred(ev):
                return got

    def close(self):
        self.conn.close()
