"""Embedded mode: an mpi4py application run alone (`mpirun -n 6 python3 embedded_app.py`) makes
the ChronoLog service out of 4 of its own ranks with py_chronolog_client.init(MPI.COMM_WORLD);
the other ranks compute with app_comm(), log, replay their own events and leave at exit.
Client ranks print "EMBEDDED ok rank=<r> size=<n> events=<k>"; service ranks print nothing of
their own."""
import sys

from mpi4py import MPI

import py_chronolog_client as cl

EVENTS = 50


def expect(what, got, *allowed):
    if got not in allowed:
        sys.exit(f"embedded_app: {what} returned {got!r}, expected {' or '.join(map(repr, allowed))}")


def main():
    expect("joined before init", cl.joined(), False)
    code, is_client = cl.init(MPI.COMM_WORLD)
    expect("init", code, 0)
    if not is_client:
        return  # a service rank: it served until every client left
    comm = cl.app_comm()
    rank, size = comm.Get_rank(), comm.Get_size()
    expect("allreduce over app_comm", comm.allreduce(1), size)
    client = cl.Client(cl.ClientPortalServiceConf(), cl.ClientQueryServiceConf())
    expect("Connect", client.Connect(), 0)
    if rank == 0:
        expect("CreateChronicle", client.CreateChronicle("embedded", {}, 0), 0)
    comm.Barrier()
    code, story = client.AcquireStory("embedded", f"rank-{rank}", {}, 0)
    expect("AcquireStory", code, 0)
    expect("log_events", story.log_events(f"step {i}" for i in range(EVENTS)), EVENTS)
    expect("flush", story.flush(), 0)
    events = cl.EventList()
    expect("ReplayStory", client.ReplayStory("embedded", f"rank-{rank}", 0, 2**64 - 1, events), 0)
    expect("replayed records", [e.log_record() for e in events], [f"step {i}" for i in range(EVENTS)])
    expect("Disconnect", client.Disconnect(), 0)
    print(f"EMBEDDED ok rank={rank} size={size} events={len(events)}", flush=True)
    other = cl.Client(cl.ClientPortalServiceConf(), cl.ClientQueryServiceConf())
    expect("Connect another", other.Connect(), 0)
    # Leaving before exit lets the service ranks return from init(): a collective of every rank
    # can follow (it waited for ever when leaving was only at exit).
    expect("finalize", cl.finalize(), 0)
    expect("finalize again", cl.finalize(), -8)
    # A client connected before finalize() reaches nothing after it: Connect() is -8, not 0.
    expect("Connect after finalize", other.Connect(), -8)


def end():
    MPI.COMM_WORLD.Barrier()
    print(f"WORLD barrier rank={MPI.COMM_WORLD.Get_rank()}", flush=True)


if __name__ == "__main__":
    main()
    end()
