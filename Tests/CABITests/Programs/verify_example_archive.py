"""Checks the archive of examples/c/logging_app.c (and the other language examples), reading it
with h5py exactly as docs/ARCHIVE.md tells an h5py user to (through Tests/JobTests'
verify_job_archive.py, which runs that document's reader code).

usage: verify_example_archive.py ARCHIVE.h5 LOGGED.txt
LOGGED.txt holds the application's `LOGGED\tchronicle\tstory\tclient_id\tcount` lines, one story
per application rank. Record `i` of every story must be `step=<i> sum=<(i + 1) * n * (n + 1) / 2>`
for n stories, each event stored exactly once, indexes dense from 0, times in order.
Prints `VERIFIED <events>` and exits 0, or prints what differs and exits 1.
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'JobTests'))
import verify_job_archive as job  # noqa: E402  (runs docs/ARCHIVE.md's reader code)
import h5py  # noqa: E402


def main(archive: str, logged_path: str) -> int:
    expected = {}
    for line in open(logged_path, encoding='utf-8'):
        if line.startswith('LOGGED\t'):
            _, chronicle, story, client, count = line.rstrip('\n').split('\t')
            expected[(chronicle, story)] = (int(client), int(count))
    n = len(expected)
    problems, total = [], 0
    with h5py.File(archive, 'r') as f:
        stories = {(s.attrs['chronicle'], s.attrs['story']): s for c in f['chronicles'].values() for s in c.values()}
        for key, (client, count) in sorted(expected.items()):
            if key not in stories:
                problems.append(f'story {key} missing from the archive')
                continue
            events = job.reader['read_story'](stories[key])
            copies = job.stored_copies(stories[key])
            if copies:
                problems.append(f'{key}: {copies} events stored more than once (exactly once expected)')
            keys = sorted(events)
            if [k[2] for k in keys] != list(range(count)) or any(k[1] != client for k in keys):
                problems.append(f'{key}: {len(keys)} events, expected indexes 0..{count - 1} of client {client}')
                continue
            for (t, c, i) in keys:
                want = f'step={i} sum={(i + 1) * n * (n + 1) // 2}'.encode()
                if events[(t, c, i)] != want:
                    problems.append(f'{key} index {i}: {events[(t, c, i)]!r}, expected {want!r}')
            total += len(keys)
    for p in problems[:20]:
        print('PROBLEM', p)
    if n == 0:
        print('PROBLEM no LOGGED lines')
    if problems or n == 0:
        return 1
    print('VERIFIED', total)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
