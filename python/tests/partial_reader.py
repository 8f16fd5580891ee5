"""Run MPMD beside chronolog-job after the test damaged the first index row of "story-4" of
"py_chronicle" (written by seed_writer.py in one archive round): ReplayStory returns -18
(CL_ERR_PARTIAL_RESULT) and appends what could be read (here nothing), replay_array returns -18
with arrays too, and an undamaged story still replays completely with 0.

With the argument "tail" (the test instead made the catalog record 6 events for story-4's writer,
which logged 4): the same codes, with the 4 archived events appended (the writer's tail is missing)."""
import sys

import py_chronolog_client as cl


def main():
    portal = cl.ClientPortalServiceConf("ofi+sockets", "127.0.0.1", 5555, 55)
    query = cl.ClientQueryServiceConf("ofi+sockets", "127.0.0.1", 5557, 57)
    client = cl.Client(portal, query)
    assert client.Connect() == 0
    expected = 4 if sys.argv[1:] == ["tail"] else 0
    damaged = cl.EventList()
    code = client.ReplayStory("py_chronicle", "story-4", 1, 2 * 10**18, damaged)
    assert code == cl.CL_ERR_PARTIAL_RESULT == -18, code
    assert len(damaged) == expected, len(damaged)
    code, events = client.replay_array("py_chronicle", "story-4", 1, 2 * 10**18)
    assert code == -18 and events is not None and len(events) == expected, (code, events)
    intact = cl.EventList()
    assert client.ReplayStory("py_chronicle", "story-5", 1, 2 * 10**18, intact) == 0
    assert len(intact) == 4, len(intact)
    assert client.Disconnect() == 0
    print("PARTIAL ok", flush=True)


if __name__ == "__main__":
    sys.exit(main())
