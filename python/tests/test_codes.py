"""Every call's return codes, run under pytest on one application rank beside chronolog-job:

    mpirun -n 4 chronolog-job --workload none : -n 1 python3 -m pytest -q test_codes.py
"""
import gc
import os
import threading
import time

import pytest

import py_chronolog_client as cl

PORTAL = cl.ClientPortalServiceConf("ofi+sockets", "127.0.0.1", 5555, 55)
QUERY = cl.ClientQueryServiceConf("ofi+sockets", "127.0.0.1", 5557, 57)
TAG = f"codes-{os.getpid()}"


@pytest.fixture
def client():
    c = cl.Client(PORTAL, QUERY)
    assert c.Connect() == cl.CL_SUCCESS
    yield c
    c.Disconnect()


def test_joined_at_import():
    assert cl.joined()


def test_confs_defaults_and_types():
    assert (PORTAL.proto, PORTAL.ip, PORTAL.port, PORTAL.provider_id) == ("ofi+sockets", "127.0.0.1", 5555, 55)
    d = cl.ClientPortalServiceConf()
    assert (d.proto, d.ip, d.port, d.provider_id) == ("ofi+sockets", "127.0.0.1", 5555, 55)
    q = cl.ClientQueryServiceConf()
    assert (q.proto, q.ip, q.port, q.provider_id) == ("ofi+sockets", "127.0.0.1", 5557, 57)
    with pytest.raises(TypeError):
        cl.ClientPortalServiceConf("ofi+sockets", "127.0.0.1", "5555", 55)
    with pytest.raises(TypeError):
        cl.Client(QUERY)
    with pytest.raises(TypeError):
        cl.Client(PORTAL, PORTAL)


def test_every_call_before_connect_is_no_connection():
    c = cl.Client(PORTAL, QUERY)
    assert c.CreateChronicle(TAG, {}, 0) == -8
    assert c.DestroyChronicle(TAG) == -8
    assert c.AcquireStory(TAG, "s", {}, 0) == (-8, None)
    assert c.ReleaseStory(TAG, "s") == -8
    assert c.DestroyStory(TAG, "s") == -8
    assert c.ReplayStory(TAG, "s", 0, 10, cl.EventList()) == -8
    assert c.Disconnect() == 0  # nothing to do: ChronoLog's Disconnect returns CL_SUCCESS too
    assert c.ShowChronicles() == [] and c.ShowStories(TAG) == []  # ChronoLog returns no code here
    # ChronoLog checks for empty names before the connection: -2 even now.
    assert c.CreateChronicle("", {}, 0) == -2 and c.DestroyChronicle("") == -2
    assert c.AcquireStory(TAG, "", {}, 0) == (-2, None)
    assert c.ReleaseStory("", "") == -2 and c.DestroyStory(TAG, "") == -2
    assert cl.Client(PORTAL).ReplayStory(TAG, "s", 0, 10, cl.EventList()) == -11
    assert cl.Client(PORTAL).ReplayStory("", "s", -1, 10, cl.EventList()) == -11  # the mode first, as ChronoLog


def test_chronicle_codes(client):
    name = TAG + "-chronicle"
    assert client.Connect() == 0  # connected already
    assert client.CreateChronicle(name, {"tier": "hot"}, 1) == 0
    assert client.CreateChronicle(name, {}, 1) == -6
    for bad in ("", "a/b", "nul\0byte", "..", "\udc80"):
        assert client.CreateChronicle(bad, {}, 0) == -2, bad
    assert client.CreateChronicle(TAG + "-x", {"k": "\udc80"}, 0) == -2
    assert client.CreateChronicle(TAG + "-x", {"k": "v" * 70000}, 0) == -2  # over the wire's 64 KiB
    with pytest.raises(TypeError):
        client.CreateChronicle(name, [], 0)
    with pytest.raises(TypeError):
        client.CreateChronicle(42, {}, 0)
    assert client.DestroyChronicle(TAG + "-missing") == -3
    code, handle = client.AcquireStory(name, "s", {}, 0)
    assert code == 0 and isinstance(handle, cl.StoryHandle)
    assert client.DestroyChronicle(name) == -4
    assert client.DestroyStory(name, "s") == -4
    assert client.ReleaseStory(name, "s") == 0
    assert client.DestroyStory(name, "s") == 0
    assert client.DestroyStory(name, "s") == -3
    assert client.DestroyChronicle(name) == 0


def test_story_codes(client):
    name = TAG + "-story"
    assert client.AcquireStory(TAG + "-nochronicle", "s", {}, 0) == (-3, None)
    assert client.CreateChronicle(name, {}, 0) == 0
    assert client.ReleaseStory(name, "s") == -5
    assert client.AcquireStory(name, "s", {"a": "b" * 70000}, 0) == (-2, None)  # was -1: the visor dropped it
    code, handle = client.AcquireStory(name, "s", {"a": "b"}, 0)
    assert code == 0
    assert handle.log_event("x") > 0
    assert handle.log_event(b"") > 0
    assert handle.log_event(bytearray(b"buffer")) > 0
    assert handle.log_event("y" * 70000) == 0  # longer than story.maxEventBytes
    assert handle.log("y" * 70000) == (-2, 0)
    with pytest.raises(TypeError):
        handle.log_event(42)
    assert handle.log_events(["a", b"b", "c"]) == 3
    assert handle.flush() == 0
    assert client.ReleaseStory(name, "s") == 0
    assert handle.log_event("late") == 0
    assert handle.log("late") == (-5, 0)
    assert handle.flush() == -5


def test_replay_codes(client):
    name = TAG + "-replay"
    assert client.CreateChronicle(name, {}, 0) == 0
    code, handle = client.AcquireStory(name, "s", {}, 0)
    times = [handle.log_event(f"e{i}") for i in range(3)]
    assert handle.flush() == 0
    events = cl.EventList()
    assert client.ReplayStory(name, "s", times[0], times[2], events) == 0  # [start, end): the last is out
    assert [e.log_record() for e in events] == ["e0", "e1"]
    assert client.ReplayStory(name, "s", times[0], times[2] + 1, events) == 0  # appends
    assert len(events) == 5 and events[-1].log_record() == "e2" and events[-1].index() == 2
    empty = cl.EventList()
    assert client.ReplayStory(name, "s", 5, 5, empty) == 0 and len(empty) == 0
    assert client.ReplayStory(name, "s", -1, 5, empty) == -2
    assert client.ReplayStory(name, TAG + "-nostory", 0, 2**64 - 1, empty) == -3
    with pytest.raises(TypeError):
        client.ReplayStory(name, "s", 0, 10, ())
    assert client.ReleaseStory(name, "s") == 0


def test_records_that_are_not_utf8_copy_from_story_to_story(client):
    # log_record() gives such a record back as a str with its undecodable bytes as lone surrogates;
    # logging that str again (or making an Event of it) keeps the bytes.
    name = TAG + "-bytes"
    raw = b"\xff\xfe binary \x00 \xc3"
    assert client.CreateChronicle(name, {}, 0) == 0
    handles = [client.AcquireStory(name, s, {}, 0)[1] for s in ("from", "to")]
    assert handles[0].log_event(raw) > 0 and handles[0].flush() == 0
    got = cl.EventList()
    assert client.ReplayStory(name, "from", 0, 2**64 - 1, got) == 0 and len(got) == 1
    text = got[0].log_record()
    assert isinstance(text, str) and got[0].log_record_bytes() == raw
    assert cl.Event(log_record=text).log_record_bytes() == raw
    assert handles[1].log_event(text) > 0 and handles[1].flush() == 0
    copied = cl.EventList()
    assert client.ReplayStory(name, "to", 0, 2**64 - 1, copied) == 0
    assert [e.log_record_bytes() for e in copied] == [raw]
    for s in ("from", "to"):
        assert client.ReleaseStory(name, s) == 0


def test_event_class():
    e = cl.Event(5, 7, 3, "rec")
    assert (e.time(), e.client_id(), e.index(), e.log_record()) == (5, 7, 3, "rec")
    d = cl.Event()
    assert (d.time(), d.client_id(), d.index(), d.log_record()) == (0, 0, 0, "")
    assert cl.Event(event_time=1, log_record=b"\xff").log_record_bytes() == b"\xff"
    assert e == cl.Event(5, 7, 3, "rec") and e != d
    for bad in ((-1,), (0, 0, 2**32), (2**64,)):
        with pytest.raises(OverflowError):
            cl.Event(*bad)
    with pytest.raises(TypeError):
        cl.Event("1")


def test_reader_after_writer_in_one_process():
    writer = cl.Client(PORTAL)
    assert writer.Connect() == 0
    name = TAG + "-two"
    assert writer.CreateChronicle(name, {}, 0) == 0
    code, handle = writer.AcquireStory(name, "s", {}, 0)
    assert code == 0 and handle.log_event("from the writer") > 0
    assert writer.ReleaseStory(name, "s") == 0
    reader = cl.Client(PORTAL, QUERY)
    assert reader.Connect() == 0
    assert reader.client_id() != writer.client_id()
    events = cl.EventList()
    assert reader.ReplayStory(name, "s", 0, 2**64 - 1, events) == 0
    assert [(e.client_id(), e.log_record()) for e in events] == [(writer.client_id(), "from the writer")]
    assert writer.ReplayStory(name, "s", 0, 2**64 - 1, cl.EventList()) == -11
    assert writer.Disconnect() == 0 and reader.Disconnect() == 0


def test_disconnect_releases_and_later_calls_are_no_connection():
    c = cl.Client(PORTAL)
    assert c.Connect() == 0
    name = TAG + "-disc"
    assert c.CreateChronicle(name, {}, 0) == 0
    code, handle = c.AcquireStory(name, "s", {}, 0)
    assert handle.log_event("kept") > 0
    assert c.Disconnect() == 0
    assert c.Disconnect() == 0  # again: nothing to do, as in ChronoLog
    assert handle.log_event("after") == 0
    assert c.CreateChronicle(name + "2", {}, 0) == -8
    assert c.AcquireStory(name, "s", {}, 0) == (-8, None)
    assert c.Connect() == 0  # a new session
    assert c.DestroyStory(name, "s") == 0


def test_code_names():
    assert cl.code_name(-11) == "CL_ERR_NOT_READER_MODE"
    assert cl.CL_ERR_NO_CONNECTION == -8 and cl.CL_ERR_NOT_READER_MODE == -11
    assert cl.CL_ERR_PARTIAL_RESULT == -18 and cl.code_name(-18) == "CL_ERR_PARTIAL_RESULT"
    assert isinstance(cl.strerror(-3), str)


def test_mpi4py_imported_after_the_module():
    from mpi4py import MPI  # MPI was initialised by the join at import; mpi4py adopts it

    comm = cl.app_comm()
    assert isinstance(comm, MPI.Intracomm) and comm.Get_size() == 1
    assert MPI.COMM_WORLD.Get_size() == 5 and MPI.Query_thread() == MPI.THREAD_MULTIPLE
    assert comm.allreduce(21) == 21


def test_the_gil_is_released_while_a_call_waits(client):
    """Another Python thread keeps running while flush(durable=True) waits for an archive round:
    its longest pause is far shorter than the call (holding the GIL, it would pause throughout)."""
    name = TAG + "-gil"
    assert client.CreateChronicle(name, {}, 0) == 0
    code, handle = client.AcquireStory(name, "s", {}, 0)
    longest, stop = [0.0], threading.Event()

    def spin():
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last)
            last = now

    spinner = threading.Thread(target=spin)
    spinner.start()
    ratios = []
    try:
        for i in range(3):
            assert handle.log_event(f"x{i}") > 0
            longest[0] = 0.0
            t0 = time.perf_counter()
            assert handle.flush(durable=True) == 0  # waits for the next archive round
            elapsed = time.perf_counter() - t0
            ratios.append(longest[0] / elapsed)
    finally:
        stop.set()
        spinner.join()
    assert min(ratios) < 0.5, ratios
    assert client.ReleaseStory(name, "s") == 0


def test_chronolog_3_signatures_and_keywords(client):
    """ChronoLog 3's client has no flags (its reader_client.py calls AcquireStory(chronicle, story,
    attrs)); its pybind module names ReleaseStory's and DestroyStory's arguments chronicle_name and
    story_name, and log_event's log_string; seed 002 names every parameter."""
    name = TAG + "-v3"
    assert client.CreateChronicle(name, {}) == 0
    assert client.CreateChronicle(name, {}) == -6
    code, handle = client.AcquireStory(name, "s", {})
    assert code == 0
    assert handle.log_event(log_string="by keyword") > 0
    with pytest.raises(TypeError):
        handle.log_event(record="wrong keyword")
    with pytest.raises(TypeError):
        handle.log_event()
    with pytest.raises(TypeError):
        handle.log_event("a", "b")
    assert client.ReleaseStory(chronicle_name=name, story_name="s") == 0
    events = cl.EventList()
    assert client.ReplayStory(name, "s", 0, 2**64 - 1, events) == 0
    assert [e.log_record() for e in events] == ["by keyword"]
    assert client.DestroyStory(chronicle_name=name, story_name="s") == 0
    # Seed 002's parameter names as keywords (ChronoLog's module takes these positionally only).
    assert client.CreateChronicle(chronicle_name=name + "-kw", attrs={}, flags=0) == 0
    code, handle = client.AcquireStory(chronicle_name=name + "-kw", story_name="s", attrs={})
    assert code == 0 and handle.log_event(event_string="seed name") > 0
    assert client.ReleaseStory(name + "-kw", "s") == 0
    events = cl.EventList()
    assert client.ReplayStory(chronicle_name=name + "-kw", story_name="s", start=0, end=2**64 - 1, event_series=events) == 0
    assert [e.log_record() for e in events] == ["seed name"]
    assert client.DestroyStory(name + "-kw", "s") == 0 and client.DestroyChronicle(chronicle_name=name + "-kw") == 0
    assert client.AcquireStory(name + "-missing", "s", {}) == (-3, None)
    assert client.ReleaseStory("", "s") == -2 and client.ReleaseStory(name, "") == -2


def test_flags_of_32_bits_only(client):
    """flags is ChronoLog's C++ int: any 32-bit int is passed on (a negative one as its bit
    pattern); a wider int is -2 and creates or acquires nothing (it was truncated before); a
    non-int is a TypeError."""
    name = TAG + "-flags"
    for flags in (2**32, 2**40, -(2**31) - 1, 2**64):
        assert client.CreateChronicle(name, {}, flags) == -2, flags
        assert client.AcquireStory(name, "s", {}, flags=flags) == (-2, None), flags
    assert name not in client.ShowChronicles()
    with pytest.raises(TypeError):
        client.CreateChronicle(name, {}, "1")
    with pytest.raises(TypeError):
        client.AcquireStory(name, "s", {}, 1.0)
    assert client.CreateChronicle(name, {}, 2**32 - 1) == 0
    for flags in (-1, -(2**31), 2**31, 0):
        code, handle = client.AcquireStory(name, "s", {}, flags)
        assert code == 0 and handle is not None, flags
        assert client.ReleaseStory(name, "s") == 0
    assert client.DestroyStory(name, "s") == 0 and client.DestroyChronicle(name) == 0


def test_show_chronicles_and_stories(client):
    name = TAG + "-show"
    assert client.CreateChronicle(name, {}) == 0
    assert name in client.ShowChronicles()
    assert client.ShowStories(name) == []
    for story in ("b", "a", "ü-story"):
        code, _ = client.AcquireStory(name, story, {})
        assert code == 0 and client.ReleaseStory(name, story) == 0
    assert client.ShowStories(name) == ["a", "b", "ü-story"]  # byte-wise order of the UTF-8 names
    filled = ["stale"]
    assert client.ShowStories(chronicle_name=name, stories=filled) == ["a", "b", "ü-story"] == filled
    assert client.DestroyStory(name, "b") == 0
    assert client.ShowStories(name) == ["a", "ü-story"]  # a destroyed story is not listed
    assert client.ShowStories(name + "-missing") == [] and client.ShowStories("") == []
    names = client.ShowChronicles([])
    assert names == sorted(names, key=lambda n: n.encode()) and name in names
    with pytest.raises(TypeError):
        client.ShowStories(42)


def test_acquiring_twice_gives_the_same_story_handle(client):
    """As ChronoLog's module does (pybind returns the one Python object of a C++ StoryHandle)."""
    name = TAG + "-same"
    assert client.CreateChronicle(name, {}) == 0
    first = client.AcquireStory(name, "s", {})[1]
    assert client.AcquireStory(name, "s", {})[1] is first
    assert client.ReleaseStory(name, "s") == 0
    again = client.AcquireStory(name, "s", {})[1]
    assert again is not first and first.log_event("x") == 0 and again.log_event("y") > 0
    assert client.ReleaseStory(name, "s") == 0


def test_a_client_dropped_while_connected_disconnects(client):
    """As ChronoLog's ~Client: dropping a connected client flushes and releases its stories, so
    they can be destroyed at once (they stayed held, -4, until the process left the job)."""
    name = TAG + "-dropped"
    dropped = cl.Client(PORTAL)
    assert dropped.Connect() == 0 and dropped.CreateChronicle(name, {}) == 0
    code, handle = dropped.AcquireStory(name, "s", {})
    assert code == 0 and handle.log_event("kept") > 0
    del dropped, handle  # the handle keeps its client alive: both go here
    gc.collect()
    events = cl.EventList()
    assert client.ReplayStory(name, "s", 0, 2**64 - 1, events) == 0
    assert [e.log_record() for e in events] == ["kept"]
    assert client.DestroyStory(name, "s") == 0 and client.DestroyChronicle(name) == 0
