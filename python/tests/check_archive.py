"""After a job: the archive, read offline with read_archive (h5py) and with
`chronolog replay --format csv`, holds exactly the events listed in a JSON-lines file (one object
per event: chronicle, story, time, client_id, index, record as hex), story by story, in event
order; read_archive of a middle range [t1, t_last) gives exactly those events of it.

usage: check_archive.py EVENTS.jsonl ARCHIVE_DIR CHRONOLOG_CLI
Prints "ARCHIVE ok <events>"."""
import base64
import json
import subprocess
import sys

import py_chronolog_client as cl


def cli_replay(cli, archive, chronicle, story):
    out = subprocess.run([cli, "replay", "--format", "csv", archive, chronicle, story], check=True, capture_output=True,
                         text=True).stdout.splitlines()[1:]
    return [(int(t), int(c), int(i), base64.b64decode(r)) for t, c, i, _, r in (line.split(",") for line in out)]


def main(events_path, archive, cli):
    logged = [json.loads(line) for line in open(events_path)]
    stories = sorted({(e["chronicle"], e["story"]) for e in logged})
    for chronicle, story in stories:
        want = sorted((e["time"], e["client_id"], e["index"], bytes.fromhex(e["record"]))
                      for e in logged if (e["chronicle"], e["story"]) == (chronicle, story))
        got = cl.read_archive(archive, chronicle, story).tuples()
        if got != want:
            sys.exit(f"check_archive: {chronicle}/{story}: read_archive gave {len(got)} events, expected {len(want)}; they differ")
        lo, hi = want[1][0], want[-1][0]
        middle = cl.read_archive(archive, chronicle, story, lo, hi).tuples()
        if middle != [e for e in want if lo <= e[0] < hi]:
            sys.exit(f"check_archive: {chronicle}/{story}: read_archive of [t1, t_last) differs")
        from_cli = cli_replay(cli, archive, chronicle, story)
        if from_cli != want:
            sys.exit(f"check_archive: {chronicle}/{story}: chronolog replay gave {len(from_cli)} events, expected {len(want)}")
    print(f"ARCHIVE ok {len(logged)}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
