#!/usr/bin/python3
"""Events per second, per story and client, from a `chronolog export` trace, as a PNG.

    chronolog export chronolog-archive --format chrome-trace -o trace.json
    /usr/bin/python3 scripts/plot-events.py trace.json -o events.png [--bin SECONDS]

One panel per story (the trace's threads, "<chronicle>/<story>"), one line per client (its
processes, "client <id>"); x is the time since the trace's origin, y the events per second in
each bin. The trace is read twice, line by line (export writes one trace event per line), so a
large trace is never held in memory; another Chrome-trace JSON file is loaded whole. Needs
matplotlib (Debian: python3-matplotlib; scripts/lib.sh installs it): run it with Debian's
/usr/bin/python3, a pyenv python3 may not have it.

Exit status: 0 with the PNG written; 1 when the trace cannot be read or holds no instant
events, or the PNG cannot be written (one line on standard error); 2 for a usage error.
"""
import argparse
import json
import sys
from collections import defaultdict

MAX_PANELS = 12
MAX_LINES = 16


def fail(message):
    print(f"plot-events: {message}", file=sys.stderr)
    sys.exit(1)


def trace_events(path):
    """Yields the trace events of `path`: line by line for export's layout, else the whole file."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
            if first.startswith(b'{"displayTimeUnit"') and first.rstrip().endswith(b'"traceEvents":['):
                for line in f:
                    line = line.strip().rstrip(b",")
                    if line.startswith(b"{"):
                        yield json.loads(line)
                return
        with open(path, "rb") as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read the trace: {e}")
    events = document.get("traceEvents") if isinstance(document, dict) else document
    if not isinstance(events, list):
        fail(f"{path}: not a Chrome trace (no traceEvents array)")
    yield from events


def scan(path):
    """The instants' time span (µs) and the names of processes and threads."""
    lo, hi, count = None, None, 0
    processes, threads = {}, {}
    for e in trace_events(path):
        ph = e.get("ph")
        if ph == "M":
            name = (e.get("args") or {}).get("name")
            if e.get("name") == "process_name":
                processes[e.get("pid")] = name
            elif e.get("name") == "thread_name":
                threads[(e.get("pid"), e.get("tid"))] = name
        elif ph in ("i", "I") and isinstance(e.get("ts"), (int, float)):
            ts = float(e["ts"])
            lo = ts if lo is None else min(lo, ts)
            hi = ts if hi is None else max(hi, ts)
            count += 1
    if count == 0:
        fail(f"{path}: no instant events (ph \"i\") to plot")
    return lo, hi, count, processes, threads


def count_bins(path, lo, width_us):
    """Events per (story, client) track and bin."""
    bins = defaultdict(lambda: defaultdict(int))
    for e in trace_events(path):
        if e.get("ph") in ("i", "I") and isinstance(e.get("ts"), (int, float)):
            bins[(e.get("pid"), e.get("tid"))][int((float(e["ts"]) - lo) // width_us)] += 1
    return bins


def auto_bin(span_s):
    """One second (at most 100 000 bins), or for a trace shorter than a minute 60 bins over it."""
    return max(1.0, span_s / 100_000) if span_s >= 60 else max(span_s / 60, 1e-6)


def plot(args):
    lo, hi, count, processes, threads = scan(args.trace)
    width_s = args.bin or auto_bin((hi - lo) / 1e6)
    nbins = int((hi - lo) / 1e6 // width_s) + 1
    if nbins > 1_000_000:
        fail(f"--bin {width_s:g} s makes {nbins} bins over {(hi - lo) / 1e6:g} s: choose a wider bin")
    bins = count_bins(args.trace, lo, width_s * 1e6)
    stories = defaultdict(dict)
    for (pid, tid), per_bin in bins.items():
        story = threads.get((pid, tid), f"thread {tid}")
        stories[story][processes.get(pid, f"pid {pid}")] = per_bin
    shown = sorted(stories, key=lambda s: -sum(sum(b.values()) for b in stories[s].values()))[:MAX_PANELS]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.4 * len(shown) + 1), sharex=True, squeeze=False)
    for ax, story in zip(axes[:, 0], sorted(shown)):
        clients = sorted(stories[story].items(), key=lambda kv: -sum(kv[1].values()))
        for client, per_bin in clients[:MAX_LINES]:
            # Every bin, empty ones as 0, so a burst shows as a step up and down.
            ax.step([(x + 0.5) * width_s for x in range(nbins)], [per_bin.get(x, 0) / width_s for x in range(nbins)],
                    where="mid", label=f"{client} ({sum(per_bin.values())})")
        ax.set_ylim(bottom=0)
        more = f", {len(clients) - MAX_LINES} more clients not drawn" if len(clients) > MAX_LINES else ""
        ax.set_title(f"{story}{more}", fontsize=10)
        ax.set_ylabel("events/s")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel(f"seconds since the trace origin (bins of {width_s:.3g} s)")
    hidden = len(stories) - len(shown)
    fig.suptitle(f"{args.trace}: {count} events, {len(stories)} stories"
                 + (f" ({hidden} smallest not drawn)" if hidden else ""), fontsize=11)
    # tight_layout leaves the figure title out: keep its height free.
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    try:
        fig.savefig(args.output, dpi=100)
    except OSError as e:
        fail(f"{args.output}: cannot write the PNG: {e}")
    print(f"plot-events: {args.output}: {count} events, {len(shown)} stories, bins of {width_s:.3g} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", help="a trace written by `chronolog export --format chrome-trace`")
    parser.add_argument("-o", "--output", default="events.png", help="the PNG to write (default: events.png)")
    parser.add_argument("--bin", type=float, default=None,
                        help="bin width in seconds (default: 1 s, or 1/60 of a trace shorter than a minute)")
    args = parser.parse_args()
    if args.bin is not None and not args.bin > 0:
        parser.error("--bin must be a positive number of seconds")
    plot(args)


if __name__ == "__main__":
    main()
