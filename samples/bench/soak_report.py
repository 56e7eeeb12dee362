#!/usr/bin/env python3
"""The soak's report (samples/bench/soak.sh): a table per minute and a verdict.

Reads the soak folder: samples.tsv (RSS, open fds and threads of each process, from /proc),
changes.tsv (each gallery change, when it finished, and whether the subject should then be
verified), element.jsonl (faceverify's frame messages through siamese-bus-json, stamped with the
wall clock) and audit.db (siamese-access-control's decisions). Prints the table, the reflection
delay of every change, the growth of each process after warm-up, and PASS or FAIL.

Three delays per change, each from the end of the command that made it (0: reflected before
the command returned, as a `siamese-enroll` commit is, seconds before its process exits):
- gallery: until the element's frame messages carry a new gallery-generation, i.e. its
  decisions are made against the changed gallery. Every change must show within --max-delay.
- element / access: until the subject's state follows the change. After a removal (or a
  replacement by a gallery without the subject) the subject is no longer verified (the element:
  in no frame; the door: its audit log revokes the track); this is the safety bound, also
  --max-delay. After an addition (or a replacement by a gallery with the subject, or a rebuild)
  they are verified again; that needs new evidence (confirm-frames of embeddings within the
  threshold), so it depends on the model and the face, not on the reload: reported, and
  counted against --max-add-delay, but not part of the verdict.

Usage: soak_report.py DIR --subject s1 [--max-delay 2] [--max-add-delay 5] [--track-life 8]
                      [--warmup 60] [--rss-slack-mib 16]
Exit status: 0 PASS, 1 FAIL, 2 usage or missing files.
"""
import argparse
import bisect
import datetime
import json
import os
import sqlite3
import sys


def read_tsv(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def element_observations(path, subject, generations=None):
    """(wall time, subject verified in this frame) per faceverify frame message; generations
    (a list, optional) receives (wall time, gallery-generation) of each."""
    obs = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short when the process was stopped
            m = record.get("m", {})
            if m.get("message") != "faceverify":
                continue
            faces = m.get("faces") or []
            seen = any(isinstance(face, dict) and face.get("identity") == subject and
                       face.get("verified") is True for face in faces)
            obs.append((float(record["wall"]), seen))
            if generations is not None:
                generations.append((float(record["wall"]), int(m.get("gallery-generation", -1))))
    obs.sort()
    if generations is not None:
        generations.sort()
    return obs


def generation_reflection(generations, start, done, end):
    """Seconds from done until a frame carries a gallery-generation newer than the last one
    before start (0 when before done); None: not within (start, end)."""
    before = [g for t, g in generations if t < start]
    last = before[-1] if before else -1
    for t, g in generations:
        if start <= t < end and g > last:
            return max(0.0, t - done)
    return None


def iso_seconds(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def access_intervals(path, subject, track_life):
    """[start, end) wall-time intervals in which siamese-access-control held the subject
    verified, from its audit rows: a track verified (or granted) as the subject until a later
    row says otherwise (revoke, unknown, pending, deny) or the track can no longer be in view
    (track_life seconds after its first row: the walk loop's length)."""
    if not os.path.exists(path):
        return []
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        rows = db.execute("SELECT time, track, identity, decision FROM decisions ORDER BY id").fetchall()
    except sqlite3.Error:
        return []
    finally:
        db.close()
    first_seen, open_since, intervals = {}, {}, []
    for time, track, identity, decision in rows:
        t = iso_seconds(time)
        first_seen.setdefault(track, t)
        if identity == subject and decision in ("verified", "grant"):
            open_since.setdefault(track, t)
        elif track in open_since and decision in ("revoke", "unknown", "pending", "deny"):
            start = open_since.pop(track)
            intervals.append((start, min(t, first_seen[track] + track_life)))
    for track, start in open_since.items():
        intervals.append((start, first_seen[track] + track_life))
    return sorted(i for i in intervals if i[1] > i[0])


def reflection(obs, start, end, expect):
    """Seconds from start until the observations in (start, end) follow expect; None: never.
    The state before start is the last observation before it (not verified when none)."""
    i = bisect.bisect_right(obs, (start, True))
    before = obs[i - 1][1] if i > 0 else False
    window = [o for o in obs[i:] if o[0] < end]
    if expect == "absent":
        last_yes = max((k for k, (_, v) in enumerate(window) if v), default=None)
        if last_yes is None:
            if not before:
                return 0.0
            return window[0][0] - start if window else None
        if last_yes == len(window) - 1:
            return None  # still verified when the window closed
        return window[last_yes + 1][0] - start
    if before and (not window or window[0][1]):
        return 0.0  # verified before and still (a rebuild that kept the subject)
    return next((t - start for t, v in window if v), None)


def interval_reflection(intervals, start, end, expect):
    """reflection() for intervals in which the subject was verified."""
    live = [(a, b) for a, b in intervals if a < end and b > start]
    if expect == "absent":
        if not live:
            return 0.0
        last = max(b for _, b in live)
        return None if last >= end else last - start
    if any(a <= start for a, _ in live):
        return 0.0
    return min(a for a, _ in live) - start if live else None


def fmt_delay(d):
    return "never" if d is None else "%.2f" % d


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--subject", required=True)
    p.add_argument("--max-delay", type=float, default=2.0)
    p.add_argument("--max-add-delay", type=float, default=5.0)
    p.add_argument("--track-life", type=float, default=8.0)
    p.add_argument("--warmup", type=float, default=60.0)
    p.add_argument("--rss-slack-mib", type=float, default=16.0)
    a = p.parse_args()
    try:
        samples = read_tsv(os.path.join(a.dir, "samples.tsv"))
        changes = read_tsv(os.path.join(a.dir, "changes.tsv"))
        with open(os.path.join(a.dir, "run.tsv")) as f:
            run = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    except OSError as e:
        print("soak_report: %s" % e, file=sys.stderr)
        return 2
    t0, t_end = float(run["start"]), float(run["end"])
    generations = []
    observers = {
        "element": element_observations(os.path.join(a.dir, "element.jsonl"), a.subject,
                                        generations),
        "access": access_intervals(os.path.join(a.dir, "audit.db"), a.subject, a.track_life),
    }
    measure = {"element": reflection, "access": interval_reflection}
    limit = {"absent": a.max_delay, "present": a.max_add_delay}
    failures = []

    # Reflection of every change, by both processes.
    delays = []  # (change, {observer: delay})
    for k, c in enumerate(changes):
        start = float(c["done"])
        end = float(changes[k + 1]["start"]) if k + 1 < len(changes) else t_end
        row = {"gallery": generation_reflection(generations, float(c["start"]), start, end)}
        for name, obs in observers.items():
            row[name] = measure[name](obs, start, end, c["expect"])
        delays.append((c, row))
        if c["status"] != "0":
            failures.append("change %d (%s) failed: exit status %s" % (k + 1, c["kind"], c["status"]))

    # The table, one row per minute.
    by_minute = {}
    for s in samples:
        minute = int((float(s["wall"]) - t0) // 60)
        by_minute.setdefault(minute, {})[s["process"]] = s
    print("\nper minute (RSS MiB / open fds / threads; reflection: worst delay in s of the "
          "changes that minute)")
    print("%6s | %22s | %22s | %7s | %9s %9s %9s" % ("minute", "faceverify (gst-launch)",
                                                     "siamese-access-control", "changes",
                                                     "gallery", "element", "access"))
    for minute in sorted(by_minute):
        cells = []
        for proc in ("element", "access"):
            s = by_minute[minute].get(proc)
            cells.append("%8.1f %6s %6s" % (int(s["rss_kb"]) / 1024.0, s["fds"], s["threads"])
                         if s and s["rss_kb"] != "-" else "%22s" % "(not running)")
        in_minute = [(c, d) for c, d in delays if int((float(c["done"]) - t0) // 60) == minute]
        worst = {}
        for name in ("gallery",) + tuple(observers):
            values = [d[name] for _, d in in_minute]
            worst[name] = ("never" if any(v is None for v in values) else
                           "%.2f" % max(values) if values else "-")
        print("%6d | %s | %s | %7d | %9s %9s %9s" % (minute, cells[0], cells[1], len(in_minute),
                                                     worst["gallery"], worst["element"],
                                                     worst["access"]))

    print("\nchanges (delay in s: gallery = the element decides with the new gallery; element, "
          "access = the subject's state follows; limits: %.1f s for the gallery and to stop "
          "verifying; verifying again is reported against %.1f s)" % (a.max_delay, a.max_add_delay))
    print("%4s %7s %-16s %-8s %9s %9s %9s" % ("#", "at s", "change", "expect", "gallery",
                                              "element", "access"))
    for k, (c, d) in enumerate(delays):
        print("%4d %7.1f %-16s %-8s %9s %9s %9s" % (k + 1, float(c["done"]) - t0, c["kind"],
                                                    c["expect"], fmt_delay(d["gallery"]),
                                                    fmt_delay(d["element"]),
                                                    fmt_delay(d["access"])))
    if generations and all(g < 0 for _, g in generations):
        failures.append("the element's messages carry no gallery-generation (a plugin built "
                        "before it was added): rebuild the plugin")
    gallery_delays = [d["gallery"] for _, d in delays]
    late = [v for v in gallery_delays if v is None or v > a.max_delay]
    print("gallery  every change     %3d changes, worst %-8s %d over %.1f s" % (
        len(gallery_delays), "never" if any(v is None for v in gallery_delays) else
        "%.2f s" % max(gallery_delays, default=0.0), len(late), a.max_delay))
    if late:
        failures.append("gallery: %d of %d changes not in the element's decisions within %.1f s"
                        % (len(late), len(gallery_delays), a.max_delay))
    kinds = sorted({c["kind"] for c, _ in delays})
    for name in observers:
        if not observers[name]:
            failures.append("%s: no observation of %s at all" % (name, a.subject))
            continue
        for kind in kinds:
            of_kind = [(c, d) for c, d in delays if c["kind"] == kind]
            values = [d[name] for _, d in of_kind]
            bound = limit[of_kind[0][0]["expect"]]
            late = [v for v in values if v is None or v > bound]
            worst = "never" if any(v is None for v in values) else "%.2f s" % max(values)
            print("%-8s %-16s %3d changes, worst %-8s %d over %.1f s" % (
                name, kind, len(values), worst, len(late), bound))
            if late and of_kind[0][0]["expect"] == "absent":  # additions: reported only
                failures.append("%s: %d of %d '%s' changes not reflected within %.1f s (worst %s)"
                                % (name, len(late), len(values), kind, bound, worst))

    # Growth after warm-up: the first sample at or after warmup against the last.
    print("\ngrowth after %.0f s of warm-up (first sample -> last)" % a.warmup)
    for proc, label in (("element", "faceverify (gst-launch)"), ("access", "siamese-access-control")):
        rows = [s for s in samples if s["process"] == proc and s["rss_kb"] != "-"]
        alive = [s for s in samples if s["process"] == proc]
        if alive and alive[-1]["rss_kb"] == "-":
            failures.append("%s exited before the end of the soak" % label)
        late = [s for s in rows if float(s["wall"]) - t0 >= a.warmup] or rows[-1:]
        if len(late) < 2:
            print("  %-24s too few samples after warm-up" % label)
            continue
        first, last = late[0], late[-1]
        rss = (int(last["rss_kb"]) - int(first["rss_kb"])) / 1024.0
        fds = int(last["fds"]) - int(first["fds"])
        threads = int(last["threads"]) - int(first["threads"])
        span = (float(last["wall"]) - float(first["wall"])) / 60.0
        print("  %-24s RSS %+7.1f MiB (%.1f -> %.1f, %+.2f MiB/min), fds %+d, threads %+d over "
              "%.1f min" % (label, rss, int(first["rss_kb"]) / 1024.0,
                            int(last["rss_kb"]) / 1024.0, rss / span if span else 0.0, fds,
                            threads, span))
        allowed = a.rss_slack_mib + 0.05 * int(first["rss_kb"]) / 1024.0
        if rss > allowed:
            failures.append("%s: RSS grew %.1f MiB after warm-up (allowed %.1f)" % (label, rss, allowed))
        if fds > 2:
            failures.append("%s: %d more open file descriptors after warm-up" % (label, fds))
        if threads > 2:
            failures.append("%s: %d more threads after warm-up" % (label, threads))

    print("\nverdict: %s" % ("PASS" if not failures else "FAIL"))
    for f in failures:
        print("  - " + f)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
