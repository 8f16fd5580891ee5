"""After the job of test_mpi_app.py: the archive read offline with read_archive (h5py) and with
`chronolog replay --format csv` holds exactly the events the application replayed.

usage: check_archive.py DUMP.json ARCHIVE_DIR CHRONOLOG_CLI
Prints "ARCHIVE ok <n>"."""
import base64
import json
import subprocess
import sys

import py_chronolog_client as cl


def main(dump_path, archive, cli):
    dump = json.load(open(dump_path))
    want = [(t, c, i, bytes.fromhex(r)) for t, c, i, r in dump["events"]]
    arr = cl.read_archive(archive, dump["chronicle"], dump["story"])
    if arr.tuples() != want:
        sys.exit(f"check_archive: read_archive gave {len(arr)} events, the replay {len(want)}; they differ")
    middle = cl.read_archive(archive, dump["chronicle"], dump["story"], want[1][0], want[-1][0])
    if middle.tuples() != [e for e in want if want[1][0] <= e[0] < want[-1][0]]:
        sys.exit("check_archive: read_archive of [t1, t_last) differs from the replay")
    out = subprocess.run([cli, "replay", "--format", "csv", archive, dump["chronicle"], dump["story"]], check=True,
                         capture_output=True, text=True).stdout.splitlines()[1:]
    rows = [line.split(",") for line in out]
    cli_events = [(int(t), int(c), int(i), base64.b64decode(r)) for t, c, i, _, r in rows]
    if cli_events != want:
        sys.exit(f"check_archive: chronolog replay gave {len(cli_events)} events, the replay {len(want)}; they differ")
    print(f"ARCHIVE ok {len(want)}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
