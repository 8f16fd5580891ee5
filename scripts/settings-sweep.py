#!/usr/bin/env python3
"""Whole jobs under random in-range settings: the soak that found the late events of a re-acquired story.

Each run draws, from its seed, a deployment (1 or 2 virtual nodes, 1-3 keepers and 0-2 players per
group, 1-3 client ranks) and a value for every ingest and archive setting, mostly at or near the ends
of its documented range (`chronolog-job --print-config`, README "Configuration"); runs the built-in
demo workload (every client logs EVENTS events to the shared story and to each of its own STORIES
stories, ROUNDS times, releasing and acquiring them again between rounds); then requires:

  - exit status 0 and a summary with lost=0;
  - every event logged: clients x (stories + 1) x events x rounds;
  - archived + rejected = logged, and rejected = 0 unless the run drew story.latePolicy=reject;
  - `chronolog verify` of the archive: exit 0 (every index row, chunk and per-client index sequence
    sound, every story complete).

A failing run prints BAD with its seed and what broke, and keeps the job's output in
OUT/sweep-fail-SEED.log with the mpirun line that replays it. Runs use the machine's cores: expect
3-40 s per run. Exit status: 0 when every run passed, 1 otherwise, 2 for a usage error.

  scripts/settings-sweep.py --runs 40 --first 1000 [--bin .build-release/release] [--out DIR]
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

SUMMARY = re.compile(r"events: logged=(\d+) received=(\d+) archived=(\d+) late=(\d+) rejected=(\d+) refused=(\d+) lost=(\d+)")


def draw(seed):
    """The deployment, workload and settings of run `seed`."""
    r = random.Random(seed)
    run = {
        "virtual_nodes": r.choice([0, 0, 2]),
        "keepers": r.choice([1, 1, 2, 3]),
        "players": r.choice([1, 1, 0, 2]),
        "clients": r.choice([1, 2, 3]),
        "stories": r.choice([1, 2, 4]),
        "events": r.choice([1, 50, 777, 3000]),
        "rounds": r.choice([1, 2, 3]),
    }
    run["settings"] = {
        "story.chunkDurationMs": r.choice([1, 3, 20, 100, 2000]),
        "grapher.archiveIntervalMs": r.choice([1, 7, 100, 1500]),
        "keeper.memoryLimitBytes": r.choice([1 << 20, 2 << 20, 96 << 20]),
        "grapher.memoryLimitBytes": r.choice([1 << 20, 3 << 20, 1 << 30]),
        "keeper.transferSlotBytes": r.choice([65536, 262144, 4194304]),
        "client.batchEvents": r.choice([1, 3, 1024]),
        "client.batchBytes": r.choice([1, 4096, 1 << 20]),
        "client.lingerMicroseconds": r.choice([0, 1000, 200000]),
        "client.maxPendingBatches": r.choice([1, 2, 8]),
        "archive.maxRowBytes": r.choice([4096, 65536, 4194304]),
        "archive.pageCacheBytes": r.choice([0, 1 << 20, 268435456]),
        "player.pieceBytes": r.choice([4096, 4194304]),
        "player.piecesInFlight": r.choice([1, 4]),
        "heartbeat.intervalMs": r.choice([1, 1000]),
        "story.latePolicy": r.choice(["revise", "revise", "reject"]),
    }
    groups = max(1, run["virtual_nodes"])
    run["ranks"] = 1 + groups * (run["keepers"] + 1 + run["players"]) + run["clients"]
    return run


def command(binaries, run, work):
    args = ["mpirun", "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        args.append("--allow-run-as-root")
    args += ["-n", str(run["ranks"]), os.path.join(binaries, "chronolog-job"), "--quiet",
             "--stories", str(run["stories"]), "--events", str(run["events"]), "--rounds", str(run["rounds"]),
             "--keepers-per-node", str(run["keepers"]), "--players-per-node", str(run["players"]),
             "--set", "archive.directory=" + os.path.join(work, "archive")]
    if run["virtual_nodes"]:
        args += ["--virtual-nodes", str(run["virtual_nodes"])]
    for key, value in run["settings"].items():
        args += ["--set", f"{key}={value}"]
    return args


def check(binaries, run, work, timeout):
    """Runs one job and its checks; returns (problems, output)."""
    args = command(binaries, run, work)
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=work)
        status, output = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        status, output = f"no end within {timeout} s", out
    problems = []
    if status != 0:
        problems.append(f"exit status {status}")
    m = SUMMARY.search(output)
    expected = run["clients"] * (run["stories"] + 1) * run["events"] * run["rounds"]
    if not m:
        problems.append("no summary")
    else:
        logged, _, archived, _, rejected, _, lost = map(int, m.groups())
        if logged != expected:
            problems.append(f"logged {logged}, expected {expected}")
        if archived + rejected != logged:
            problems.append(f"archived {archived} + rejected {rejected} != logged {logged}")
        if lost:
            problems.append(f"lost={lost}")
        if rejected and run["settings"]["story.latePolicy"] != "reject":
            problems.append(f"rejected={rejected} under latePolicy=revise")
    archive = os.path.join(work, "archive")
    if os.path.isdir(archive):
        v = subprocess.run([os.path.join(binaries, "chronolog"), "verify", archive], capture_output=True, text=True, timeout=timeout)
        if v.returncode != 0:
            problems.append("chronolog verify exit %d: %s" % (v.returncode, " | ".join(v.stdout.strip().splitlines()[-4:])))
            output += "\n--- chronolog verify\n" + v.stdout + v.stderr
    else:
        problems.append("no archive directory")
    return problems, " ".join(args) + "\n" + output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs (default 20)")
    parser.add_argument("--first", type=int, default=None, help="seed of the first run (default: drawn now)")
    parser.add_argument("--seed", type=int, default=None, help="run this one seed only")
    parser.add_argument("--bin", default=".build-release/release", help="directory of chronolog-job and chronolog (default .build-release/release)")
    parser.add_argument("--out", default=".", help="where failing runs' output is kept (default .)")
    parser.add_argument("--timeout", type=int, default=240, help="seconds a run may take (default 240)")
    a = parser.parse_args()
    if a.runs < 1 or a.timeout < 10:
        parser.error("--runs must be at least 1 and --timeout at least 10")
    for tool in ("chronolog-job", "chronolog"):
        if not os.access(os.path.join(a.bin, tool), os.X_OK):
            print(f"settings-sweep: no {tool} in {a.bin} (build it: swift build -c release --scratch-path .build-release)", file=sys.stderr)
            return 2
    seeds = [a.seed] if a.seed is not None else range(a.first if a.first is not None else random.randrange(1 << 30), 10 ** 12)
    failed = 0
    for n, seed in zip(range(a.runs if a.seed is None else 1), seeds):
        run = draw(seed)
        work = tempfile.mkdtemp(prefix="chronolog-sweep-")
        started = time.monotonic()
        try:
            problems, output = check(os.path.abspath(a.bin), run, work, a.timeout)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        took = time.monotonic() - started
        shape = (f"ranks={run['ranks']} virtual-nodes={run['virtual_nodes']} keepers={run['keepers']} players={run['players']} "
                 f"clients={run['clients']} stories={run['stories']} events={run['events']} rounds={run['rounds']}")
        print(f"{'OK ' if not problems else 'BAD'} seed={seed} {took:.1f}s {shape} {run['settings']}" + (f" -- {'; '.join(problems)}" if problems else ""), flush=True)
        if problems:
            failed += 1
            path = os.path.join(a.out, f"sweep-fail-{seed}.log")
            with open(path, "w") as f:
                f.write(output)
            print(f"    output: {path} (the same settings again: scripts/settings-sweep.py --seed {seed}; timing differs from run to run)", flush=True)
    print(f"settings-sweep: {failed} of {n + 1} run(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
