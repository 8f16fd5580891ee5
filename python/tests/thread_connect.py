"""Threads connecting at once (run attached to a service): first, 4 threads each make their first
Connect() on a Client of their own together (the process attaches once); then 8 threads call
Connect() on one shared Client together, then Disconnect(). ChronoLog's codes: every call 0.
Prints one line: THREADS own=[...] shared_connect=[...] shared_disconnect=[...]"""
import threading

import py_chronolog_client as cl


def together(n, call):
    codes = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        codes[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


own = [cl.Client(cl.ClientPortalServiceConf()) for _ in range(4)]
own_codes = together(4, lambda i: own[i].Connect())
for c in own:
    c.Disconnect()
shared = cl.Client(cl.ClientPortalServiceConf())
connect_codes = together(8, lambda i: shared.Connect())
connected = shared.client_id() != 0
disconnect_codes = together(8, lambda i: shared.Disconnect())
print(f"THREADS own={own_codes} shared_connect={connect_codes} connected={connected} shared_disconnect={disconnect_codes}",
      flush=True)
