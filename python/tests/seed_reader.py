"""A reader in the style of ChronoLog's example (py_reader_client_example.py), run MPMD in a
second job over the archive the writer's job left: Client(portal, query), Connect, AcquireStory (three arguments, as ChronoLog 3's reader),
ReplayStory([1, 2*10^18)) into an EventList, print each event's getters, ReleaseStory, ReplayLast (the last 2),
Disconnect. It checks every return code and that the replayed events are exactly the ones
seed_writer.py logged (the JSON lines file named by argv[1]); a writer-only client's ReplayStory
gives -11. Prints EVENT lines and "READER ok <n>".

Needs only py_chronolog_client (no mpi4py, no NumPy)."""
import json
import sys

import py_chronolog_client


def expect(what, got, *allowed):
    if got not in allowed:
        sys.exit(f"seed_reader: {what} returned {got!r}, expected {' or '.join(map(repr, allowed))}")


def main(logged_path):
    logged = [json.loads(line) for line in open(logged_path)]
    stories = sorted({(e["chronicle"], e["story"]) for e in logged})
    portal = py_chronolog_client.ClientPortalServiceConf("ofi+sockets", "127.0.0.1", 5555, 55)
    query = py_chronolog_client.ClientQueryServiceConf("ofi+sockets", "127.0.0.1", 5557, 57)
    writer = py_chronolog_client.Client(portal)
    client = py_chronolog_client.Client(portal, query)
    expect("ReplayStory before Connect", client.ReplayStory("py_chronicle", "x", 1, 2, py_chronolog_client.EventList()), -8)
    expect("Connect", client.Connect(), 0)
    expect("writer Connect", writer.Connect(), 0)
    expect("writer-only ReplayStory", writer.ReplayStory("py_chronicle", "x", 1, 2, py_chronolog_client.EventList()), -11)
    total = 0
    for chronicle, story in stories:
        code, handle = client.AcquireStory(chronicle, story, {})  # ChronoLog 3's reader: no flags
        expect("AcquireStory", code, 0)
        event_series = py_chronolog_client.EventList()
        expect("ReplayStory", client.ReplayStory(chronicle, story, 1, 2 * 10**18, event_series), 0)
        got = [(e.time(), e.client_id(), e.index(), e.log_record_bytes().hex()) for e in event_series]
        want = sorted((e["time"], e["client_id"], e["index"], e["record"]) for e in logged if e["story"] == story)
        if got != want:
            sys.exit(f"seed_reader: {chronicle}/{story}: replayed {got}, logged {want}")
        for i in range(len(event_series)):
            e = event_series[i]
            print("EVENT", chronicle, story, e.time(), e.client_id(), e.index(), repr(e.log_record()), flush=True)
        expect("ReleaseStory", client.ReleaseStory(chronicle, story), 0)
        # "Last N" (not in seed 002): the story is no longer recorded, so its last 2 events.
        last = py_chronolog_client.EventList()
        expect("ReplayLast", client.ReplayLast(chronicle, story, 2, last), 0)
        got_last = [(e.time(), e.client_id(), e.index(), e.log_record_bytes().hex()) for e in last]
        if got_last != want[-2:]:
            sys.exit(f"seed_reader: {chronicle}/{story}: last 2 {got_last}, logged {want[-2:]}")
        expect("writer-only ReplayLast", writer.ReplayLast(chronicle, story, 2, py_chronolog_client.EventList()), -11)
        expect("ReplayLast of a count above 2**32 - 1", client.ReplayLast(chronicle, story, 2**32, py_chronolog_client.EventList()), -2)
        total += len(event_series)
    expect("Disconnect", client.Disconnect(), 0)
    expect("writer Disconnect", writer.Disconnect(), 0)
    print(f"READER ok {total}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
