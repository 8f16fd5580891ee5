"""ChronoLog's Python client API (seed 002), over ChronoLog-Swift's C library (libchronolog).

A Python MPI application logs events into the ChronoLog-Swift service of its own MPI job::

    mpirun -n 4 chronolog-job --workload none : -n 2 python3 app.py

Importing the module makes the process part of that job (collective over MPI_COMM_WORLD: every
rank of the Python application imports it), whether or not mpi4py was imported before; use
``app_comm()`` instead of ``MPI.COMM_WORLD``, which also holds the service ranks. At interpreter
exit the process leaves the job (MPI is finalised only if this module initialised it).

The job is joined at import when the launch is MPMD (Open MPI's ``OMPI_APP_CTX_NUM_PROCS`` names
two or more applications); ``PY_CHRONOLOG_JOIN=1`` forces it (other launchers), ``=0`` prevents
it. Otherwise nothing touches MPI at import, and the first ``Client.Connect()`` attaches the
process to a running service (``jobs/chronolog-service.sh``, docs/ATTACH.md): the run directory
named by ``attach(run_dir)``, else ``CHRONOLOG_ATTACH_RUN_DIRECTORY``, else
``/tmp/chronolog-<uid>/service-<port>`` with the port of the client's ``ClientPortalServiceConf``
(5555 by default), so ChronoLog's example scripts run unchanged as ``python3 script.py``; without a
service ``Connect()`` returns -8 at once. Or the application makes the service out of its own ranks
with ``init()`` (embedded mode).

The module prints nothing to standard output.
"""
import atexit as _atexit
import os as _os
import sys as _sys
import threading as _threading

# Open MPI loads its components with dlopen and needs libmpi's symbols global.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from . import _core
finally:
    _sys.setdlopenflags(_flags)

from ._core import (  # noqa: E402  (re-exported API)
    CL_ERR_ACQUIRED,
    CL_ERR_CHRONICLE_EXISTS,
    CL_ERR_INVALID_ARG,
    CL_ERR_NO_CONNECTION,
    CL_ERR_NO_KEEPERS,
    CL_ERR_NO_PLAYERS,
    CL_ERR_NOT_ACQUIRED,
    CL_ERR_NOT_AUTHORIZED,
    CL_ERR_NOT_EXIST,
    CL_ERR_NOT_READER_MODE,
    CL_ERR_PARTIAL_RESULT,
    CL_ERR_PROTOCOL_VERSION_MISMATCH,
    CL_ERR_QUERY_TIMED_OUT,
    CL_ERR_UNKNOWN,
    CL_SUCCESS,
    Event,
    StoryHandle,
    code_name,
    strerror,
)
from ._arrays import ArchiveDamage, EventArray, read_archive  # noqa: E402
from ._confs import ClientPortalServiceConf, ClientQueryServiceConf  # noqa: E402

__all__ = [
    "ClientPortalServiceConf", "ClientQueryServiceConf", "Client", "StoryHandle", "Event", "EventList",
    "EventArray", "EVENT_DTYPE", "ArchiveDamage", "read_archive", "app_comm", "attach", "init", "join", "joined", "finalize",
    "code_name", "strerror",
]


class EventList(list):
    """The container ``Client.ReplayStory`` appends events to: a list of ``Event``.

    Create an empty one and pass it as the last argument of ReplayStory; then ``len()``,
    iteration and indexing give the events in event order."""


class Client(_core.Client):
    """A client of the ChronoLog service: chronicles, stories, logging and replay.

    ``Client(portal_conf)`` makes a writer-only client; ``Client(portal_conf, query_conf)`` a
    writer and reader (``ReplayStory``). In an MPI job the service is found by rank: the confs are
    checked and kept for compatibility. Every method returns ChronoLog's integer codes; a call
    before ``Connect()`` returns -8 (CL_ERR_NO_CONNECTION). Several clients may live in one
    process (a reader made after a writer works), and any thread may call any method: the GIL is
    released while a call waits for the service.
    """

    def __init__(self, portal_conf, query_conf=None):
        if not isinstance(portal_conf, ClientPortalServiceConf):
            raise TypeError(f"portal_conf must be a ClientPortalServiceConf, not {type(portal_conf).__name__}")
        if query_conf is not None and not isinstance(query_conf, ClientQueryServiceConf):
            raise TypeError(f"query_conf must be a ClientQueryServiceConf, not {type(query_conf).__name__}")
        super().__init__(query_conf is not None)
        self.portal_conf = portal_conf
        self.query_conf = query_conf
        # Connect and Disconnect of one client, from any number of threads, one at a time: a second
        # Connect then finds the client connected (0), a second Disconnect finds it disconnected (0).
        self._session_lock = _threading.Lock()

    def Connect(self):
        """Connect() -> int: opens the client's session (0, or ChronoLog's code). In a process that
        is not part of a job, first attaches to the running service (see the module's doc): -8
        when there is none (at once), -9 when its token is refused."""
        with self._session_lock:
            if _core._phase() == 0:
                code = _attach(None, self.portal_conf.port, unless_attached=True)
                if code != CL_SUCCESS:
                    return code
            return super().Connect()

    def Disconnect(self):
        """Disconnect() -> int: closes the client's session, flushing and releasing its stories
        (0; 0 too when it is not connected, as in ChronoLog)."""
        with self._session_lock:
            return super().Disconnect()

    def replay_array(self, chronicle_name, story_name, start, end):
        """Replays [start, end) into arrays, without a Python object per event.

        Returns ``(code, EventArray | None)``: the array's ``events`` is a NumPy structured array
        of ``EVENT_DTYPE`` (time, client_id, index), ``offsets`` (n + 1 uint64) delimits each
        event's record in ``payload`` (one bytes-like buffer). Codes as for ``ReplayStory``.
        Needs NumPy."""
        code, records, offsets, payload = self.replay_buffers(chronicle_name, story_name, start, end)
        if code not in (CL_SUCCESS, CL_ERR_PARTIAL_RESULT):
            return code, None
        return code, EventArray.from_buffers(records, offsets, payload)

    def __repr__(self):
        return f"Client(reader={self.is_reader}, client_id={self.client_id()})"


_app_comm = None


def joined():
    """Whether this process is part of a ChronoLog job now (joined or embedded client rank)."""
    return _core._phase() == 1


def join(config_path=None):
    """Joins the job's ChronoLog service as an application rank (chronolog_join); done at import
    for MPMD launches. Collective over MPI_COMM_WORLD. Returns a code: 0, -2 (already joined or
    left, a bad configuration, MPI below MPI_THREAD_MULTIPLE), -7 (the job has no service), -1 (the
    service cannot use its archive directory; stderr names it)."""
    code = _core._join(config_path)
    if code == CL_SUCCESS:
        _drain_on_sigterm()
    return code


def attach(run_dir=None, portal_port=0):
    """Attaches this process to a running service (chronolog_attach; docs/ATTACH.md) without
    waiting for the first ``Connect()``: ``run_dir`` its run directory (default as in the module's
    doc). Returns a code: 0, -8 (no service: missing or stale run directory, at once), -9 (token
    refused), -2 (already joined or attached). Not collective."""
    return _attach(run_dir, portal_port)


# One attach at a time in a process: threads making their first Connect together attach once,
# the others then find the process attached.
_attach_lock = _threading.Lock()


def _attach(run_dir, portal_port, unless_attached=False):
    with _attach_lock:
        if unless_attached and _core._phase() == 1:
            return CL_SUCCESS
        return _core._attach(run_dir, portal_port)


def init(comm=None, config_path=None):
    """Embedded mode (chronolog_init): makes the service out of this application's own ranks.

    Run alone (``mpirun -n N python3 app.py``, with PY_CHRONOLOG_JOIN unset) and call it on every
    rank with an mpi4py communicator congruent to MPI.COMM_WORLD (or None). Returns
    ``(code, is_client)``: on client ranks at once, with ``app_comm()`` the clients'
    communicator; on service ranks after every client rank has left the job (then the rank's part
    is over: let it exit). Collective."""
    handle = None if comm is None else comm.py2f()
    code, is_client = _core._init(handle, config_path)
    if code == CL_SUCCESS and is_client:
        _drain_on_sigterm()
    return code, is_client


def app_comm():
    """The application's own communicator as an mpi4py ``MPI.Intracomm`` (the ranks of this
    program, without the service ranks), or None when not joined. Do not free it: leaving the job
    frees it. Needs mpi4py."""
    global _app_comm
    handle = _core._app_comm_f()
    if handle is None:
        return None
    if _app_comm is None:
        from mpi4py import MPI

        _app_comm = MPI.Intracomm.f2py(handle)
    return _app_comm


def finalize():
    """Leaves the job now instead of at interpreter exit (chronolog_finalize): the process's clients
    disconnect (their stories flushed and released), and a joined or embedded rank leaves the job,
    collectively with the other ranks of its application; an attached process detaches. After it
    the service ranks of an embedded job return from ``init()``, so a collective of the whole
    ``MPI.COMM_WORLD`` may follow. Later calls return -8. Returns a code: 0, -8 (not joined or
    attached, or left already)."""
    return _core._finalize()


def __getattr__(name):
    if name == "EVENT_DTYPE":  # the NumPy dtype of EventArray.events (time, client_id, index); needs NumPy
        from . import _arrays

        return _arrays.EVENT_DTYPE
    raise AttributeError(f"module 'py_chronolog_client' has no attribute {name!r}")


def _leave():
    _core._finalize()


def _drain_on_sigterm():
    """A rank of a job that gets SIGTERM (scancel, a signalled mpirun) leaves it as at exit, its
    events flushed, as chronolog-job's ranks drain: SIGTERM raises SystemExit(0) in the main
    thread, so ``finally`` blocks and exit handlers run and the job ends with its summary. Only
    where the program left SIGTERM's default (which would kill the process with its events
    unsent) and from the main thread (where Python runs handlers)."""
    import signal

    if _threading.current_thread() is not _threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _launched_mpmd():
    explicit = _os.environ.get("PY_CHRONOLOG_JOIN")
    if explicit is not None:
        return explicit.strip() not in ("", "0", "no", "false")
    return len(_os.environ.get("OMPI_APP_CTX_NUM_PROCS", "").split()) >= 2


if _launched_mpmd():
    join()
_atexit.register(_leave)
