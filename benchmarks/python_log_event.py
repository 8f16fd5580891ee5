"""StoryHandle.log_event from Python: each application rank logs EVENTS events of SIZE bytes
(a str of 256 ASCII characters by default) to its own story as fast as it can; every 16th call is
timed with time.perf_counter_ns. Then the story is replayed with ReplayStory into an EventList and
with Client.replay_array (if NumPy is there). Rank 0 prints p50/p99/p99.9 of the timed calls (max
over ranks, and the timer's own cost), the logging rate and the replay rates. Run MPMD
(benchmarks/python-log-event.sh does):

    mpirun -n 4 chronolog-job --workload none : -n 2 python3 python_log_event.py [events] [size] [replay-MiB]

With replay-MiB > 0, rank 0 then logs a story of that many MiB of SIZE-byte events, flushes it
durably, and times replay_array of the whole story against h5py reading the same story's
`events` and `payload` datasets from the archive file (a snapshot: HDF5_USE_FILE_LOCKING=FALSE),
alternately, 3 times each; it prints the medians.
"""
import os
import sys
import time

from mpi4py import MPI

import py_chronolog_client as cl

EVERY = 16


def percentile(sorted_values, p):
    i = int(p / 100.0 * (len(sorted_values) - 1) + 0.5)
    return sorted_values[min(i, len(sorted_values) - 1)]


def timed_logging(handle, record, events):
    """Logs `events` records, timing every EVERY-th call; returns (sorted latencies ns, seconds, failures)."""
    clock, log = time.perf_counter_ns, handle.log_event
    lat, failed = [], 0
    start = clock()
    for i in range(events):
        if i % EVERY == 0:
            t0 = clock()
            t = log(record)
            lat.append(clock() - t0)
        else:
            t = log(record)
        if t == 0:
            failed += 1
    return sorted(lat), (clock() - start) / 1e9, failed


def timer_cost():
    clock = time.perf_counter_ns
    best = 10**9
    for _ in range(1000):
        a = clock()
        best = min(best, clock() - a)
    return best


def main(events=1000000, size=256, replay_mib=0):
    comm = cl.app_comm()
    rank, ranks = comm.Get_rank(), comm.Get_size()
    client = cl.Client(cl.ClientPortalServiceConf(), cl.ClientQueryServiceConf())
    assert client.Connect() == 0
    if rank == 0:
        client.CreateChronicle("bench-py", {}, 0)
    comm.Barrier()
    story = f"writer-{rank}"
    code, handle = client.AcquireStory("bench-py", story, {}, 0)
    assert code == 0, code
    record = "Z" * size
    comm.Barrier()
    lat, seconds, failed = timed_logging(handle, record, events)
    assert handle.flush() == 0
    p = [percentile(lat, q) for q in (50, 99, 99.9)]
    worst = comm.reduce(p + [seconds, failed], op=lambda a, b: [max(x, y) for x, y in zip(a, b)], root=0)
    t0 = time.perf_counter()
    event_list = cl.EventList()
    assert client.ReplayStory("bench-py", story, 0, 2**64 - 1, event_list) == 0 and len(event_list) == events
    replay_s = time.perf_counter() - t0
    del event_list
    array_s = None
    try:
        import numpy  # noqa: F401

        t0 = time.perf_counter()
        code, arr = client.replay_array("bench-py", story, 0, 2**64 - 1)
        array_s = time.perf_counter() - t0
        assert code == 0 and len(arr) == events
    except ImportError:
        pass
    replays = comm.gather((replay_s, array_s), root=0)
    if rank == 0:
        print(f"BENCH python_log_event: {ranks} writer ranks x {events} events of {size} B (str)")
        print(f"  log_event p50 {worst[0]} ns, p99 {worst[1]} ns, p99.9 {worst[2]} ns "
              f"(max over ranks; timer itself {timer_cost()} ns)")
        print(f"  logging {events * ranks / worst[3] / 1e6:.2f} M events/s, failed {worst[4]}")
        slowest = max(r[0] for r in replays)
        print(f"  ReplayStory into an EventList: {events / slowest / 1e6:.2f} M events/s per reader (slowest of {ranks})")
        if all(r[1] is not None for r in replays):
            slowest = max(r[1] for r in replays)
            print(f"  replay_array: {events / slowest / 1e6:.2f} M events/s, "
                  f"{events * size / slowest / 2**20:.0f} MiB/s of records per reader (slowest)")
        sys.stdout.flush()
    assert client.ReleaseStory("bench-py", story) == 0
    if replay_mib > 0 and rank == 0:
        replay_against_h5py(client, replay_mib, size)
    sys.stdout.flush()
    comm.Barrier()
    assert client.Disconnect() == 0


def replay_against_h5py(client, mib, size):
    """Rank 0: a story of `mib` MiB, replayed with replay_array and read with h5py, 3 times each."""
    os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
    import h5py
    import numpy as np

    from py_chronolog_client import _arrays

    events = mib * 2**20 // size
    code, handle = client.AcquireStory("bench-py", "big", {}, 0)
    assert code == 0 and handle.log_events(b"Y" * size for _ in range(events)) == events
    assert handle.flush(durable=True) == 0
    ours, plain = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        code, arr = client.replay_array("bench-py", "big", 0, 2**64 - 1)
        ours.append(time.perf_counter() - t0)
        assert code == 0 and len(arr) == events
        del arr
        t0 = time.perf_counter()
        with h5py.File(os.path.join("chronolog-archive", "chronolog-archive.h5"), "r") as f:
            group = _arrays._find_story(f, "bench-py", "big")
            rows, payload = group["events"][...], group["payload"][...]
        plain.append(time.perf_counter() - t0)
        assert len(rows) >= events and isinstance(payload, np.ndarray)
        del rows, payload
    a, b = sorted(ours)[1], sorted(plain)[1]
    print(f"  replay_array of {mib} MiB ({events} events): median {mib / a:.0f} MiB/s; h5py reading the same "
          f"datasets: median {mib / b:.0f} MiB/s; ratio {b / a * 100:.0f} %")
    assert client.ReleaseStory("bench-py", "big") == 0


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
