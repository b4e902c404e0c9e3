#!/usr/bin/env python3
"""web_cdp.py - drives headless Chromium over the DevTools protocol (its
--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4, so only the
standard library is needed) through the launcher's live page:

  web_cdp.py CHROMIUM PROFILE URL NODES KILL_NAME KILL_PID SHOT [after]

NODES is the run's node names, space-separated.  Checks, printing one
line each and exiting 1 at the first failure:
  - the page renders a best height, and that height increases;
  - every node appears in the network drawing and the nodes table, each
    with at least one drawn link;
  - after kill -9 of KILL_PID (the daemon KILL_NAME) the page marks that
    node down within 2 s, and later shows it back with a restart;
  - no console message, no uncaught exception, no request to anything but
    the page's own origin (and a deliberate bad fetch at the end shows the
    detectors work).
A screenshot of the page before the kill (with "after": once the node is
back, its restart and the launcher's event line showing) goes to SHOT.
"""
import base64
import json
import os
import select
import signal
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, profile):
        r3, w3 = os.pipe()  # we write commands, Chromium reads fd 3
        r4, w4 = os.pipe()  # Chromium writes fd 4, we read
        def child():
            os.dup2(r3, 3)
            os.dup2(w4, 4)
        self.log = open(os.path.join(profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--disable-default-apps", "--user-data-dir=" + profile,
             "--remote-debugging-pipe", "--window-size=1280,1500", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log)
        os.close(r3)
        os.close(w4)
        self.w, self.r = w3, r4
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read_msg(self, timeout):
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            rd, _, _ = select.select([self.r], [], [], left)
            if rd:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self._read_msg(end - time.monotonic())
            if m is None:
                break
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)
        raise RuntimeError("%s: no answer in %s s" % (method, timeout))

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            m = self._read_msg(max(0.0, end - time.monotonic()))
            if m is None:
                return
            if "method" in m:
                self.events.append(m)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


STATE = """(() => {
  if (!document.body || !document.getElementById('nodes'))
    return { updated: null, height: '-', drawn: [], rows: [], links: [], restarts: [] };
  const q = (s) => Array.from(document.querySelectorAll(s));
  return {
    updated: document.body.getAttribute('data-updated'),
    height: (document.getElementById('best-height') || {}).textContent,
    status: (document.getElementById('status') || {}).textContent,
    drawn: q('#net g.node').map((g) => ({ name: g.dataset.name, up: g.dataset.up,
                                          state: g.dataset.state })),
    rows: q('#nodes tbody tr').map((r) => r.dataset.node),
    links: q('#net line.link').map((l) => [l.dataset.a, l.dataset.b]),
    restarts: q('#nodes tbody tr').map((r) => [r.dataset.node, r.lastChild.textContent]),
  };
})()"""


def problems(b, origin):
    out = []
    for e in b.events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            out.append("console.%s: %s" % (p.get("type"), [a.get("value") for a in p.get("args", [])]))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: %s" % p.get("exceptionDetails", {}).get("text"))
        elif m == "Log.entryAdded":
            en = p.get("entry", {})
            out.append("log %s: %s %s" % (en.get("level"), en.get("text"), en.get("url", "")))
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(origin + "/"):
                out.append("request outside the page's origin: " + url)
    return out


def main():
    chromium, profile, url, nodes, kill_name, kill_pid, shot = sys.argv[1:8]
    shot_after = sys.argv[8:9] == ["after"]
    nodes = nodes.split()
    origin = url.rstrip("/")
    b = Browser(chromium, profile)
    failed = None
    try:
        tgt = [t for t in b.call("Target.getTargets", session=False)["targetInfos"]
               if t["type"] == "page"][0]
        b.session = b.call("Target.attachToTarget", {"targetId": tgt["targetId"],
                                                     "flatten": True}, session=False)["sessionId"]
        for d in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
            b.call(d)
        b.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1500,
                                                      "deviceScaleFactor": 1, "mobile": False})
        b.events.clear()
        b.call("Page.navigate", {"url": url})

        def wait(what, cond, secs):
            end = time.monotonic() + secs
            while True:
                s = b.eval(STATE)
                if cond(s):
                    return s
                if time.monotonic() > end:
                    raise AssertionError("%s: not within %s s (page: %s)" % (what, secs, json.dumps(s)[:600]))
                b.pump(0.1)

        s = wait("the page shows a best height",
                 lambda s: s["updated"] and (s["height"] or "-").isdigit(), 30)
        h0 = int(s["height"])
        print("page live, best height %d, status %s" % (h0, s["status"]))
        s = wait("the best height increases", lambda s: int(s["height"]) > h0, 90)
        print("best height rose %d -> %s" % (h0, s["height"]))

        def all_linked(s):
            drawn = {d["name"] for d in s["drawn"]}
            linked = {n for l in s["links"] for n in l}
            return set(nodes) <= drawn and set(nodes) <= set(s["rows"]) and set(nodes) <= linked \
                and all(d["up"] == "1" for d in s["drawn"])
        s = wait("every node drawn, up, in the table and linked", all_linked, 60)
        print("nodes drawn: %s; links: %s" % (" ".join(d["name"] for d in s["drawn"]),
                                              " ".join("-".join(l) for l in s["links"])))

        def screenshot():
            b.pump(1.0)
            png = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png["data"]))
            print("screenshot %s" % shot)
        if not shot_after:
            screenshot()

        t0 = time.monotonic()
        os.kill(int(kill_pid), signal.SIGKILL)
        down = lambda s: any(d["name"] == kill_name and d["up"] == "0" for d in s["drawn"])
        s = wait("%s shown down after kill -9" % kill_name, down, 2.0)
        dt = time.monotonic() - t0
        st = [d["state"] for d in s["drawn"] if d["name"] == kill_name][0]
        print("%s shown %s %.2f s after kill -9" % (kill_name, st, dt))
        back = lambda s: any(d["name"] == kill_name and d["up"] == "1" for d in s["drawn"]) and \
            any(r[0] == kill_name and r[1] not in ("", "0") for r in s["restarts"])
        wait("%s back up with its restart counted" % kill_name, back, 60)
        print("%s back up, restart counted" % kill_name)
        if shot_after:
            screenshot()

        b.pump(1.0)
        bad = problems(b, origin)
        if bad:
            raise AssertionError("the page logged or fetched: " + "; ".join(bad[:5]))
        print("no console messages, no requests outside %s (%d events seen)" % (origin, len(b.events)))

        # The detectors work: a missing path logs a failed load.
        b.events.clear()
        b.eval("fetch('/no-such-path').catch(() => 0), 1")
        b.pump(1.5)
        if not problems(b, origin):
            raise AssertionError("a deliberate 404 fetch was not noticed: the checks are blind")
        print("a deliberate bad fetch is noticed")
    except (AssertionError, RuntimeError, IndexError, KeyError) as e:
        failed = str(e)
    finally:
        b.close()
    if failed:
        print("FAIL: " + failed)
        sys.exit(1)


if __name__ == "__main__":
    main()
