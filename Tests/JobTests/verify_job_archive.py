"""Checks a job's archive against what its clients said they logged, reading it with h5py
exactly as docs/ARCHIVE.md tells an h5py user to (the reader code is taken from that file).

usage: verify_job_archive.py ARCHIVE.h5 LOGGED.txt [EARLIEST_NS LATEST_NS]
LOGGED.txt holds the job's `LOGGED\tchronicle\tstory\tclient_id\tcount` lines.
Every event must be stored exactly once (a duplicate is a problem).
Prints `VERIFIED <events>` and exits 0, or prints what differs and exits 1.
"""
import pathlib
import re
import sys

doc = (pathlib.Path(__file__).resolve().parents[2] / 'docs' / 'ARCHIVE.md').read_text()
block = re.search(r'```python\n(# archive_read\.py.*?)```', doc, re.S).group(1)
reader = {}
exec(compile(block.replace("if __name__ == '__main__'", 'if False'), 'archive_read.py', 'exec'), reader)
import h5py  # noqa: E402
import numpy as np  # noqa: E402

SIZES = [0, 1, 17, 255, 4096, 65536, 3, 0]


def payload(story: str, client: int, index: int) -> bytes:
    size = SIZES[index % len(SIZES)]
    s = sum(story.encode())
    return bytes(((client * 31 + index * 7 + j * 13 + s) & 0xFF) for j in range(size))


def stored_copies(story) -> int:
    """How many stored events in the story's valid index rows repeat a (time, client_id, index)
    stored before. The documented reader keeps a key once (re-archived chunks may overlap after
    a restart); a single job must store each event exactly once, so the tests count the copies."""
    parts = []
    for r in reader['valid_rows'](story):
        first, count = int(r[3]), int(r[4])
        if count:
            parts.append(story['events'][first:first + count].view(reader['EVENT']).reshape(-1))
    if not parts:
        return 0
    records = np.concatenate(parts)[['time', 'client_id', 'index']]
    return len(records) - len(np.unique(records))


def main(archive: str, logged_path: str, earliest: int = 0, latest: int = 2**64 - 1) -> int:
    expected = {}
    for line in open(logged_path, encoding='utf-8'):
        if line.startswith('LOGGED\t'):
            _, chronicle, story, client, count = line.rstrip('\n').split('\t')
            expected.setdefault((chronicle, story), {})[int(client)] = int(count)
    problems, total = [], 0
    with h5py.File(archive, 'r') as f:
        stories = {}
        for c in f['chronicles'].values():
            for s in c.values():
                stories[(s.attrs['chronicle'], s.attrs['story'])] = s
        for key, clients in sorted(expected.items()):
            if key not in stories:
                problems.append(f'story {key} missing from the archive')
                continue
            events = reader['read_story'](stories[key])
            duplicated = stored_copies(stories[key])
            if duplicated:
                problems.append(f'{key}: {duplicated} events stored more than once (exactly once expected)')
            keys = sorted(events)
            times = [k[0] for k in keys]
            if times != sorted(times):
                problems.append(f'{key}: events out of time order')
            by_client = {}
            for (t, client, index) in keys:
                by_client.setdefault(client, []).append((index, t))
            for client, count in clients.items():
                got = by_client.get(client, [])
                indexes = sorted(i for i, _ in got)
                if indexes != list(range(count)):
                    problems.append(f'{key} client {client}: indexes {indexes[:5]}... ({len(indexes)}), expected 0..{count - 1}')
                per_index = sorted(got)
                if [t for _, t in per_index] != sorted(t for _, t in per_index):
                    problems.append(f'{key} client {client}: time goes back with the index')
            for (t, client, index), data in events.items():
                if not earliest <= t <= latest:
                    problems.append(f'{key}: event time {t} outside the job [{earliest}, {latest}]')
                if client not in clients:
                    problems.append(f'{key}: event from unknown client {client}')
                elif data != payload(key[1], client, index):
                    problems.append(f'{key}: payload of client {client} index {index} differs ({len(data)} bytes)')
            total += len(events)
            extra = len(events) - sum(clients.values())
            if extra:
                problems.append(f'{key}: {extra:+d} events compared with what was logged')
    for p in problems[:20]:
        print('PROBLEM', p)
    if problems:
        return 1
    print('VERIFIED', total)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:5]]))
