"""An mpi4py application (mpi4py imported first) computing with its own communicator while
logging from every rank and 2 threads per rank, then replaying from several threads at once,
as an EventList and as arrays. Run on 2 application ranks beside chronolog-job:

    mpirun -n 4 chronolog-job --workload none : -n 2 python3 -m pytest -q test_mpi_app.py

Rank 0 writes what it replayed to $PY_CHRONOLOG_TEST_DUMP (JSON lines) for check_archive.py, which compares
it with the archive after the job.
"""
import json
import os
import threading

from mpi4py import MPI  # before py_chronolog_client: MPI is initialised by mpi4py

import numpy as np
import pytest

import py_chronolog_client as cl

PORTAL, QUERY = cl.ClientPortalServiceConf(), cl.ClientQueryServiceConf()
CHRONICLE, STORY = "mpi_app", "threads"
PER_THREAD, THREADS = 400, 2


@pytest.fixture(scope="module")
def comm():
    c = cl.app_comm()
    assert c is not None
    return c


def test_app_comm_holds_only_the_application(comm):
    assert comm.Get_size() == 2 and MPI.COMM_WORLD.Get_size() > comm.Get_size()
    assert comm.allreduce(comm.Get_rank() + 1) == 3
    assert cl.app_comm() is comm


def log_from_threads(comm, handle):
    """Two threads log into one StoryHandle while the main thread keeps computing with comm."""
    failures = []

    def work(t):
        for i in range(PER_THREAD):
            if handle.log_event(f"rank={comm.Get_rank()} thread={t} i={i}") == 0:
                failures.append((t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    sums = [comm.allreduce(step) for step in range(50)]
    for th in threads:
        th.join()
    assert sums == [2 * s for s in range(50)] and failures == []


def test_log_from_two_ranks_and_two_threads_then_replay(comm):
    writer = cl.Client(PORTAL)
    assert writer.Connect() == 0
    if comm.Get_rank() == 0:
        assert writer.CreateChronicle(CHRONICLE, {}, 0) == 0
    comm.Barrier()
    code, handle = writer.AcquireStory(CHRONICLE, STORY, {}, 0)
    assert code == 0
    log_from_threads(comm, handle)
    assert writer.ReleaseStory(CHRONICLE, STORY) == 0
    comm.Barrier()  # every rank's events are at a keeper
    reader = cl.Client(PORTAL, QUERY)  # a reader made after a writer, same process
    assert reader.Connect() == 0
    events = cl.EventList()
    assert reader.ReplayStory(CHRONICLE, STORY, 0, 2**64 - 1, events) == 0
    n = 2 * THREADS * PER_THREAD
    assert len(events) == n
    keys = [(e.time(), e.client_id(), e.index()) for e in events]
    assert keys == sorted(keys)
    by_client = {}
    for e in events:
        by_client.setdefault(e.client_id(), []).append(e.index())
    assert len(by_client) == 2 and all(sorted(v) == list(range(n // 2)) for v in by_client.values())
    records = sorted(e.log_record() for e in events)
    assert records == sorted(f"rank={r} thread={t} i={i}" for r in range(2) for t in range(THREADS)
                             for i in range(PER_THREAD))
    concurrent_replays_agree(reader, events)
    array_replay_agrees(reader, events)
    if comm.Get_rank() == 0 and os.environ.get("PY_CHRONOLOG_TEST_DUMP"):
        with open(os.environ["PY_CHRONOLOG_TEST_DUMP"], "w") as f:
            for e in events:
                f.write(json.dumps({"chronicle": CHRONICLE, "story": STORY, "time": e.time(), "client_id": e.client_id(),
                                    "index": e.index(), "record": e.log_record_bytes().hex()}) + "\n")
    assert reader.Disconnect() == 0 and writer.Disconnect() == 0


def concurrent_replays_agree(reader, expected):
    results, errors = [None] * 4, []

    def replay(k):
        try:
            got = cl.EventList()
            code = reader.ReplayStory(CHRONICLE, STORY, 0, 2**64 - 1, got)
            results[k] = (code, got)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=replay, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    for code, got in results:
        assert code == 0 and list(got) == list(expected)


def array_replay_agrees(reader, expected):
    code, arr = reader.replay_array(CHRONICLE, STORY, 0, 2**64 - 1)
    assert code == 0 and len(arr) == len(expected)
    assert arr.events.dtype == cl.EVENT_DTYPE and arr.offsets.dtype == np.dtype("<u8")
    assert arr.tuples() == [(e.time(), e.client_id(), e.index(), e.log_record_bytes()) for e in expected]
    lo, hi = int(arr.events["time"][1]), int(arr.events["time"][-1])
    code, part = reader.replay_array(CHRONICLE, STORY, lo, hi)
    assert code == 0 and part.tuples() == [t for t in arr.tuples() if lo <= t[0] < hi]
    assert cl.Client(PORTAL).replay_array(CHRONICLE, STORY, 0, 1) == (-11, None)
