"""A writer in the style of ChronoLog's example (py_writer_client_example.py), every return code
checked: acquire before Connect (-8, None), connect, create the chronicle ({}, 1), acquire, log
four events, release, disconnect. Run MPMD beside chronolog-job; each rank writes the story
"story-<rank>" of the chronicle "py_chronicle" and appends what it logged, as JSON lines
(chronicle, story, time, client_id, index, record), to the file named by argv[1].

Needs only py_chronolog_client (no mpi4py, no NumPy)."""
import json
import os
import sys

import py_chronolog_client


def expect(what, got, *allowed):
    if got not in allowed:
        sys.exit(f"seed_writer: {what} returned {got!r}, expected {' or '.join(map(repr, allowed))}")


def main(out_path):
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
    chronicle, story = "py_chronicle", f"story-{rank}"
    portal = py_chronolog_client.ClientPortalServiceConf("ofi+sockets", "127.0.0.1", 5555, 55)
    client = py_chronolog_client.Client(portal)
    attrs = {}
    expect("AcquireStory before Connect", client.AcquireStory(chronicle, story, attrs, 1), (-8, None))
    expect("Connect", client.Connect(), 0)
    expect("CreateChronicle", client.CreateChronicle(chronicle, attrs, 1), 0, -6)  # -6: another rank was first
    expect("CreateChronicle again", client.CreateChronicle(chronicle, attrs, 1), -6)
    code, handle = client.AcquireStory(chronicle, story, attrs, 1)
    expect("AcquireStory", code, 0)
    logged = []
    for i, record in enumerate(["py_event", "py_event_2", b"bytes \x00\xff", "ünïcode ✓"]):
        t = handle.log_event(record)
        if not isinstance(t, int) or t <= 0:
            sys.exit(f"seed_writer: log_event returned {t!r}")
        data = record.encode() if isinstance(record, str) else record
        logged.append({"chronicle": chronicle, "story": story, "time": t, "client_id": client.client_id(),
                       "index": i, "record": data.hex()})
    expect("ReleaseStory", client.ReleaseStory(chronicle, story), 0)
    expect("ReleaseStory again", client.ReleaseStory(chronicle, story), -5)
    expect("log_event after release", handle.log_event("late"), 0)
    expect("Disconnect", client.Disconnect(), 0)
    expect("Disconnect again", client.Disconnect(), 0)  # nothing to do: ChronoLog returns 0 too
    with open(out_path, "a") as f:  # one write per rank: lines do not interleave
        f.write("".join(json.dumps(e) + "\n" for e in logged))
    print(f"WRITER rank={rank} logged={len(logged)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
