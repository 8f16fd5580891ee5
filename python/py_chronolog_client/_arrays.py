"""Replays as arrays (Client.replay_array) and offline archive reading (read_archive).

NumPy is imported only by the calls that return arrays; h5py only by read_archive; pandas only by
EventArray.to_pandas.
"""
import glob as _glob
import os as _os

# EVENT_DTYPE (module attribute, made on first use): the NumPy dtype of EventArray.events.
_event_dtype = None

_EVENT_FIELDS = [("time", "<u8"), ("client_id", "<u8"), ("index", "<u4")]
_ARCHIVE_FIELDS = [("time", "<u8"), ("client_id", "<u8"), ("index", "<u4"), ("length", "<u4"), ("offset", "<u8")]


def _numpy():
    global _event_dtype
    import numpy as np

    if _event_dtype is None:
        _event_dtype = np.dtype(_EVENT_FIELDS)
    return np


def __getattr__(name):
    if name == "EVENT_DTYPE":
        _numpy()
        return _event_dtype
    raise AttributeError(name)


class ArchiveDamage(ValueError):
    """Stored data fails its checksum where no crash tail can be (docs/ARCHIVE.md)."""


class EventArray:
    """Events as arrays: ``events`` (NumPy structured array of EVENT_DTYPE: time, client_id,
    index), ``offsets`` (uint64, n + 1: event i's record is ``payload[offsets[i]:offsets[i+1]]``)
    and ``payload`` (all records, one uint8 array). In event order (time, client_id, index)."""

    __slots__ = ("events", "offsets", "payload")

    def __init__(self, events, offsets, payload):
        self.events = events
        self.offsets = offsets
        self.payload = payload

    @classmethod
    def from_buffers(cls, records, offsets, payload):
        """Wraps the buffers of Client.replay_buffers without copying them."""
        np = _numpy()
        return cls(np.frombuffer(records, dtype=_event_dtype), np.frombuffer(offsets, dtype="<u8"),
                   np.frombuffer(payload, dtype=np.uint8))

    def __len__(self):
        return len(self.events)

    def record(self, i):
        """Event i's record bytes."""
        return self.payload[int(self.offsets[i]):int(self.offsets[i + 1])].tobytes()

    def tuples(self):
        """[(time, client_id, index, record bytes)], one Python tuple per event (for comparisons)."""
        return [(int(e["time"]), int(e["client_id"]), int(e["index"]), self.record(i)) for i, e in enumerate(self.events)]

    def to_pandas(self):
        """A pandas DataFrame with columns time, client_id, index and record (bytes). Needs pandas."""
        import pandas as pd

        return pd.DataFrame({"time": self.events["time"], "client_id": self.events["client_id"],
                             "index": self.events["index"], "record": [self.record(i) for i in range(len(self))]})

    def __repr__(self):
        return f"EventArray({len(self)} events, {len(self.payload)} payload bytes)"


def _checksum(np, data):
    """The archive's checksum (docs/ARCHIVE.md) of a bytes-like object."""
    k1, k2, k3, mask = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, (1 << 64) - 1
    raw = np.frombuffer(data, dtype=np.uint8)
    n = len(raw)
    padded = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)
    padded[:n] = raw
    w = padded.view("<u8")
    i = np.arange(len(w), dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (w ^ (i * np.uint64(k1))) * np.uint64(k2)
        x ^= x >> np.uint64(31)
        total = int(x.sum(dtype=np.uint64))
    h = (n * k3 + total) & mask
    return h ^ (h >> 29)


def _commit_record(np, f):
    best = None
    for r in f["commit"][...] if "commit" in f else []:
        if _checksum(np, r[:7].astype("<u8").tobytes()) == int(r[7]) and int(r[2]) in (1, 2):
            best = r if best is None or r[0] > best[0] else best
    if best is None:
        return max(len(f["rounds"]) - 1, 0), False
    return int(best[1]), int(best[2]) == 2


def _valid_rows(np, story):
    committed, closed = _commit_record(np, story.file)
    rows = story["index"][...].astype(np.uint64).reshape(-1, 13)
    ok = [_checksum(np, r[:12].astype("<u8").tobytes()) == int(r[12]) for r in rows]
    for i in range(len(rows)):
        if ok[i]:
            continue
        later = any(ok[j] and int(rows[j][1]) > 0 and int(rows[j][9]) < committed for j in range(i + 1, len(rows)))
        if closed or later:
            raise ArchiveDamage(f"{story.name}/index row {i}: row checksum mismatch")
    return rows[np.array(ok, dtype=bool)] if len(rows) else rows


def _find_story(f, chronicle, story):
    for chronicle_group in f.get("chronicles", {}).values():
        if chronicle_group.attrs.get("name") != chronicle:
            continue
        for story_group in chronicle_group.values():
            if story_group.attrs.get("story") == story:
                return story_group
    return None


def _story_pieces(np, group, start, end):
    """The story's events of [start, end) in one file: (records with absolute offsets, payload pieces)."""
    rows = _valid_rows(np, group)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    rows = rows[: np.searchsorted(rows[:, 0], end, side="left")]
    pieces, chunks = [], []
    for r in rows:
        range_end, first, count = int(r[1]), int(r[3]), int(r[4])
        if range_end <= start or count == 0:
            continue
        records = group["events"][first:first + count].view(np.dtype(_ARCHIVE_FIELDS)).reshape(-1)
        if _checksum(np, records.tobytes()) != int(r[10]):
            raise ArchiveDamage(f"{group.name}: events checksum mismatch in the chunk of range [{r[0]}, {r[1]})")
        chunk = group["payload"][int(r[5]):int(r[5]) + int(r[6])]
        if _checksum(np, chunk.tobytes()) != int(r[11]):
            raise ArchiveDamage(f"{group.name}: payload checksum mismatch in the chunk of range [{r[0]}, {r[1]})")
        keep = records[(records["time"] >= start) & (records["time"] < end)].copy()
        pieces.append((keep, int(r[5]), len(chunks)))
        chunks.append(chunk)
    return pieces, chunks


def _archive_files(path):
    if _os.path.isdir(path):
        return sorted(_glob.glob(_os.path.join(path, "*.h5")))
    return [path]


def read_archive(path, chronicle, story, start=0, end=2**64 - 1):
    """Reads the events of a story with start <= time < end from an archive, offline (h5py).

    ``path`` is an archive file or a directory of them (``chronolog-archive/``); the story's
    chunks in every file are checked (checksums, docs/ARCHIVE.md), merged and deduplicated (an
    event stored twice counts once; if the copies differ, the smaller bytes win) into an
    ``EventArray`` in event order, as ``Client.replay_array`` returns. Raises ``KeyError`` when
    no file holds the story and ``ArchiveDamage`` for damaged data. Needs NumPy and h5py."""
    np = _numpy()
    import h5py

    keyed, payloads, found = [], [], False
    for file_path in _archive_files(path):
        with h5py.File(file_path, "r") as f:
            group = _find_story(f, chronicle, story)
            if group is None:
                continue
            found = True
            pieces, chunks = _story_pieces(np, group, start, end)
            for records, chunk_start, chunk_no in pieces:
                base = sum(len(c) for c in payloads) + sum(len(c) for c in chunks[:chunk_no])
                absolute = records["offset"].astype(np.uint64) - np.uint64(chunk_start) + np.uint64(base)
                keyed.append((records, absolute))
            payloads.extend(chunks)
    if not found:
        raise KeyError(f"no story {story!r} of chronicle {chronicle!r} in {path}")
    return _merged(np, keyed, payloads)


def _merged(np, keyed, payloads):
    """One EventArray from the pieces: sorted by (time, client_id, index), each key once."""
    _numpy()  # makes the dtype
    all_payload = np.concatenate(payloads) if payloads else np.zeros(0, dtype=np.uint8)
    if keyed:
        records = np.concatenate([k[0] for k in keyed])
        source = np.concatenate([k[1] for k in keyed])
    else:
        records, source = np.zeros(0, dtype=np.dtype(_ARCHIVE_FIELDS)), np.zeros(0, dtype=np.uint64)
    order = np.lexsort((records["index"], records["client_id"], records["time"]))
    records, source = records[order], source[order]
    keep = _dedupe(np, records, source, all_payload)
    records, source = records[keep], source[keep]
    lengths = records["length"].astype(np.uint64)
    offsets = np.zeros(len(records) + 1, dtype="<u8")
    np.cumsum(lengths, out=offsets[1:])
    payload = np.empty(int(offsets[-1]), dtype=np.uint8)
    _gather(np, payload, all_payload, source, lengths, offsets)
    events = np.empty(len(records), dtype=_event_dtype)
    for name in ("time", "client_id", "index"):
        events[name] = records[name]
    return EventArray(events, offsets, payload)


def _dedupe(np, records, source, payload):
    """Which sorted records to keep: one per (time, client_id, index), the smallest bytes."""
    keep = np.ones(len(records), dtype=bool)
    if len(records) < 2:
        return keep
    same = ((records["time"][1:] == records["time"][:-1]) & (records["client_id"][1:] == records["client_id"][:-1])
            & (records["index"][1:] == records["index"][:-1]))
    i = 0
    for j in np.nonzero(same)[0]:  # records[j + 1] repeats records[j]: rare (re-archived chunks)
        j = int(j)
        i = j if j == 0 or not same[j - 1] else i
        a, b = i, j + 1

        def data(k):
            return payload[int(source[k]):int(source[k]) + int(records["length"][k])].tobytes()

        if data(b) < data(a):
            keep[a] = False
            i = b
        else:
            keep[b] = False
    return keep


def _gather(np, out, payload, source, lengths, offsets):
    """Copies each record's bytes into `out`, one slice per run of records contiguous in `payload`."""
    n = len(source)
    if n == 0:
        return
    breaks = np.nonzero(source[1:] != source[:-1] + lengths[:-1])[0] + 1
    starts = np.concatenate(([0], breaks)).astype(np.int64)
    stops = np.concatenate((breaks, [n])).astype(np.int64)
    for a, b in zip(starts, stops):
        lo, hi = int(offsets[a]), int(offsets[b])
        src = int(source[a])
        out[lo:hi] = payload[src:src + (hi - lo)]
