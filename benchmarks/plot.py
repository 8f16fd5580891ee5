#!/usr/bin/python3
"""Throughput over time from `chronolog-bench ior`'s JSON summary, as a PNG.

usage: benchmarks/plot.py SUMMARY.json [-o OUT.png] [--bin SECONDS] [--title TEXT]
       benchmarks/plot.py --scaling OUT.png SUMMARY.json... [--title TEXT]

SUMMARY.json is what `chronolog-bench ior --json FILE` (or `-O summaryFile=FILE`) writes. Its
`timeline` holds, for every API, phase (write, read), repetition and writer rank, the bytes that
writer had done at moments measured in seconds since the benchmark started. The PNG (default:
SUMMARY.png next to the JSON) has two panels on the same time axis:
  top:    all writers together, MiB/s per API and phase, in bins of --bin seconds (default: the
          run's length / 200, at least 1 ms);
  bottom: each writer rank on its own, MiB/s between consecutive samples.
Colours are APIs, solid lines writes, dashed lines reads. MiB/s counts the events' record bytes
plus their 32-byte records, as the benchmark's own figures do.

With --scaling, the summaries of a scaling series (jobs/ior-scaling.sh) become one PNG: mean MiB/s
of every API's write and read phase against the number of nodes (recording groups) of each run,
and the same figures as a table on standard output.

Needs matplotlib and numpy (Debian: python3-matplotlib python3-numpy; run with /usr/bin/python3
when another python3 comes first on PATH). Exit status 0, or 1 with a message on bad input.
"""
import argparse
import json
import os
import sys

COLOURS = {"CHRONOLOG": "tab:red", "POSIX": "tab:blue", "MPIIO": "tab:green", "HDF5": "tab:purple"}
STYLES = {"write": "-", "read": "--"}
MIB = 1048576.0


def load(path):
    """The summary's timeline, checked enough to plot it."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"plot.py: cannot read {path}: {e}")
    timeline = doc.get("timeline")
    if not isinstance(timeline, list) or not timeline:
        sys.exit(f"plot.py: {path} has no timeline (is it chronolog-bench ior's JSON summary?)")
    for series in timeline:
        if not all(k in series for k in ("api", "access", "iteration", "rank", "t", "bytes")):
            sys.exit(f"plot.py: {path}: a timeline entry lacks api/access/iteration/rank/t/bytes")
        if len(series["t"]) != len(series["bytes"]):
            sys.exit(f"plot.py: {path}: a timeline entry has {len(series['t'])} times and {len(series['bytes'])} byte counts")
    return doc, timeline


def aggregate(np, group, width):
    """All ranks of one API/phase/repetition together: bin centres and MiB/s per bin."""
    start = min(s["t"][0] for s in group)
    end = max(s["t"][-1] for s in group)
    if end <= start:
        return [], []
    edges = np.arange(start, end + width, width)
    done = np.zeros(len(edges))
    for s in group:
        # Bytes done by each edge: 0 before the rank's first sample, its total after its last.
        done += np.interp(edges, s["t"], s["bytes"], left=0.0, right=float(s["bytes"][-1]))
    rates = np.diff(done) / width / MIB
    return (edges[:-1] + edges[1:]) / 2, rates


def per_rank(np, s):
    """One rank: the times between samples and MiB/s over each interval."""
    t = np.asarray(s["t"], dtype=float)
    b = np.asarray(s["bytes"], dtype=float)
    dt = np.diff(t)
    keep = dt > 0
    return ((t[:-1] + t[1:]) / 2)[keep], (np.diff(b)[keep] / dt[keep] / MIB)


def scaling(plt, output, paths, title):
    """Mean MiB/s per API and phase against nodes, over several summaries; prints the table."""
    points = {}
    print(f"{'nodes':>5}  {'writers':>7}  {'API':<9}  {'access':<6}  {'mean MiB/s':>10}  {'events/s':>12}")
    runs = []
    for path in paths:
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError) as e:
            sys.exit(f"plot.py: cannot read {path}: {e}")
    runs.sort(key=lambda d: (d.get("nodes", 0), d.get("writers", 0)))
    for doc in runs:
        for row in doc.get("summary", []):
            key = (row["api"], row["access"])
            x = doc.get("nodes", doc.get("writers", 0))
            points.setdefault(key, []).append((x, row["mibPerSecond"]["mean"]))
            print(f"{x:>5}  {doc.get('writers', 0):>7}  {row['api']:<9}  {row['access']:<6}  "
                  f"{row['mibPerSecond']['mean']:>10.1f}  {row['eventsPerSecond']['mean']:>12.0f}")
    if not points:
        sys.exit("plot.py: no summary rows in " + " ".join(paths))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for (api, access), xy in sorted(points.items()):
        xs, ys = zip(*xy)
        ax.plot(xs, ys, marker="o", color=COLOURS.get(api, "black"), linestyle=STYLES.get(access, ":"), label=f"{api} {access}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("nodes (recording groups)")
    ax.set_ylabel("mean MiB/s, all writers")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "chronolog-bench ior scaling series", fontsize=10)
    fig.tight_layout()
    try:
        fig.savefig(output, dpi=110)
    except OSError as e:
        sys.exit(f"plot.py: cannot write {output}: {e}")
    print(output)


def main():
    parser = argparse.ArgumentParser(description="Plot chronolog-bench ior's timeline (throughput over time) as a PNG.")
    parser.add_argument("summary", nargs="+", help="the JSON summary written by chronolog-bench ior --json FILE "
                        "(several with --scaling)")
    parser.add_argument("--scaling", metavar="OUT.png", help="draw MiB/s against nodes over several summaries into OUT.png")
    parser.add_argument("-o", "--output", help="the PNG to write (default: the summary's name with .png)")
    parser.add_argument("--bin", type=float, help="seconds per bin of the top panel (default: the run's length / 200)")
    parser.add_argument("--title", help="the figure's title (default: made from the run's parameters)")
    args = parser.parse_args()
    if args.bin is not None and not args.bin > 0:
        sys.exit("plot.py: --bin must be a positive number of seconds")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:
        sys.exit(f"plot.py: {e} (Debian: apt-get install python3-matplotlib python3-numpy; run with /usr/bin/python3)")
    if args.scaling:
        return scaling(plt, args.scaling, args.summary, args.title)
    if len(args.summary) != 1:
        sys.exit("plot.py: one summary at a time without --scaling")
    summary = args.summary[0]
    doc, timeline = load(summary)
    output = args.output or os.path.splitext(summary)[0] + ".png"
    span = max(s["t"][-1] for s in timeline if s["t"]) - min(s["t"][0] for s in timeline if s["t"])
    width = args.bin or max(0.001, span / 200)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    groups = {}
    for s in timeline:
        if s["t"]:
            groups.setdefault((s["api"], s["access"], s["iteration"]), []).append(s)
    labelled = set()
    for (api, access, iteration), group in groups.items():
        colour, style = COLOURS.get(api, "black"), STYLES.get(access, ":")
        label = f"{api} {access}"
        x, y = aggregate(np, group, width)
        top.step(x, y, where="mid", color=colour, linestyle=style, label=None if label in labelled else label)
        for s in group:
            rx, ry = per_rank(np, s)
            bottom.plot(rx, ry, color=colour, linestyle=style, linewidth=0.8, alpha=0.8,
                        label=None if label in labelled else label)
            labelled.add(label)
    p = doc.get("parameters", {})
    title = args.title or (f"chronolog-bench ior on {doc.get('host', '?')}: {doc.get('writers', '?')} writers, "
                           f"{p.get('eventBytes', '?')}-B events (+{p.get('recordBytes', 32)}-B records), "
                           f"{p.get('eventsPerWriter', '?')} per writer, {p.get('iterations', '?')} repetition(s)")
    fig.suptitle(title, fontsize=10)
    top.set_title(f"all writers, per API and phase ({width * 1000:.3g} ms bins)", fontsize=9)
    bottom.set_title("each writer rank", fontsize=9)
    for ax in (top, bottom):
        ax.set_ylabel("MiB/s")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    bottom.set_xlabel("seconds since the benchmark started")
    # tight_layout leaves the figure title out: keep its height free.
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    try:
        fig.savefig(output, dpi=110)
    except OSError as e:
        sys.exit(f"plot.py: cannot write {output}: {e}")
    print(output)


if __name__ == "__main__":
    main()
