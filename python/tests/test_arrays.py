"""The merge behind read_archive, without MPI or an archive: pieces of a story that overlap (an
event archived twice) are sorted into event order, each (time, client_id, index) kept once (the
smaller bytes when the copies differ), payloads gathered in order.

    python3 -m pytest -q test_arrays.py
"""
import numpy as np

from py_chronolog_client import _arrays

FIELDS = np.dtype(_arrays._ARCHIVE_FIELDS)


def piece(events, base):
    """Archive records for [(time, client, index, bytes)] laid out from payload offset `base`."""
    records, payload, at = np.zeros(len(events), dtype=FIELDS), b"", base
    for k, (t, c, i, data) in enumerate(events):
        records[k] = (t, c, i, len(data), at)
        payload += data
        at += len(data)
    return records, records["offset"].astype(np.uint64), np.frombuffer(payload, dtype=np.uint8)


def test_overlapping_pieces_merge_in_order_each_event_once():
    first = [(10, 1, 0, b"a"), (20, 1, 1, b"bb"), (30, 2, 0, b"")]
    second = [(20, 1, 1, b"bb"), (25, 1, 2, b"ccc"), (30, 2, 0, b""), (30, 1, 3, b"z")]
    r1, s1, p1 = piece(first, 0)
    r2, s2, p2 = piece(second, len(p1))
    merged = _arrays._merged(np, [(r1, s1), (r2, s2)], [p1, p2])
    assert merged.tuples() == [(10, 1, 0, b"a"), (20, 1, 1, b"bb"), (25, 1, 2, b"ccc"), (30, 1, 3, b"z"), (30, 2, 0, b"")]
    assert merged.events.dtype == _arrays.EVENT_DTYPE and list(merged.offsets) == [0, 1, 3, 6, 7, 7]


def test_differing_copies_keep_the_smaller_bytes():
    r1, s1, p1 = piece([(5, 1, 0, b"zz"), (6, 1, 1, b"q")], 0)
    r2, s2, p2 = piece([(5, 1, 0, b"aa"), (6, 1, 1, b"r")], len(p1))
    r3, s3, p3 = piece([(5, 1, 0, b"mm")], len(p1) + len(p2))
    merged = _arrays._merged(np, [(r1, s1), (r2, s2), (r3, s3)], [p1, p2, p3])
    assert merged.tuples() == [(5, 1, 0, b"aa"), (6, 1, 1, b"q")]


def test_nothing():
    merged = _arrays._merged(np, [], [])
    assert len(merged) == 0 and list(merged.offsets) == [0]


def test_checksum_of_the_empty_input_and_padding():
    assert _arrays._checksum(np, b"") == 0
    assert _arrays._checksum(np, b"abc") != _arrays._checksum(np, b"abc\0")
