"""Checks an archive that may hold only part of what was logged (a job that ran out of disk, or
was killed), reading it with h5py exactly as docs/ARCHIVE.md tells an h5py user to.

usage: check_partial_archive.py ARCHIVE.h5 [LOGGED.txt ...]

Every event of every story must carry the payload `archive-roundtrip` logs for its (story, client,
index), and no (client, index) may appear twice in a story. For each LOGGED.txt (one per job, its
`LOGGED\tchronicle\tstory\tclient_id\tcount` lines) it prints `JOB k logged=L found=F` (events of
that job's clients found in the archive). Prints `EVENTS <total>` and `CHECKED`, exit 0; or the
problems, exit 1.
"""
import sys

import numpy as np

import verify_job_archive as job  # the docs/ARCHIVE.md reader and the payload rule

import h5py  # noqa: E402


def payload(story: str, client: int, index: int) -> bytes:
    size = job.SIZES[index % len(job.SIZES)]
    base = (client * 31 + index * 7 + sum(story.encode())) & 0xFF
    return ((np.arange(size, dtype=np.uint64) * 13 + base) & 0xFF).astype(np.uint8).tobytes()


def main(archive: str, logged_paths: list[str]) -> int:
    jobs = []
    for path in logged_paths:
        logged = {}
        for line in open(path, encoding='utf-8'):
            if line.startswith('LOGGED\t'):
                _, chronicle, story, client, count = line.rstrip('\n').split('\t')
                logged[(chronicle, story, int(client))] = int(count)
        jobs.append(logged)
    problems, total, found = [], 0, [0] * len(jobs)
    with h5py.File(archive, 'r') as f:
        for c in f['chronicles'].values():
            for s in c.values():
                chronicle, story = s.attrs['chronicle'], s.attrs['story']
                events = job.reader['read_story'](s)
                seen = set()
                for (t, client, index), data in events.items():
                    if (client, index) in seen:
                        problems.append(f'{story}: client {client} index {index} archived twice')
                    seen.add((client, index))
                    if data != payload(story, client, index):
                        problems.append(f'{story}: payload of client {client} index {index} differs ({len(data)} bytes)')
                    for k, logged in enumerate(jobs):
                        count = logged.get((chronicle, story, client))
                        if count is None:
                            continue
                        if index >= count:
                            problems.append(f'{story}: client {client} index {index} beyond the {count} it logged')
                        found[k] += 1
                total += len(events)
    for k, logged in enumerate(jobs):
        print(f'JOB {k + 1} logged={sum(logged.values())} found={found[k]}')
    print('EVENTS', total)
    for p in problems[:20]:
        print('PROBLEM', p)
    if problems:
        return 1
    print('CHECKED')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
