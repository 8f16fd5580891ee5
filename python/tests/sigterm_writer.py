"""Logs until SIGTERM (run MPMD beside chronolog-job): the module turns SIGTERM into SystemExit, so
the rank leaves the job as at exit, its events flushed. Prints LOGGING once it logs, then, in its
``finally``, LOGGED rank=R events=N."""
import os

import py_chronolog_client as cl

rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
client = cl.Client(cl.ClientPortalServiceConf())
assert client.Connect() == 0
client.CreateChronicle("term", {}, 0)
code, story = client.AcquireStory("term", f"s-{rank}", {}, 0)
assert code == 0
n = 0
print("LOGGING", flush=True)
try:
    while True:
        story.log_event(f"event {n}")
        n += 1
finally:
    print(f"LOGGED rank={rank} events={n}", flush=True)
