/*
 * _core.c — the C part of py_chronolog_client: ChronoLog's Python client API over libchronolog
 * (chronolog.h). The package's __init__.py adds the configuration classes and EventList and
 * decides when to join the job.
 *
 * Threads and the GIL: every call that may wait (join, connect, chronicle and story calls,
 * replays, flush, finalize) releases the GIL and counts itself in `g_active`; `_finalize` (at
 * interpreter exit) first stops new calls, waits for those counted, then leaves the job.
 * StoryHandle.log_event keeps the GIL: the C call is a buffer append (about 0.1 µs), cheaper than
 * releasing and taking the GIL back.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <chronolog.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Process state (changed only with the GIL held) ---- */

enum { PH_IDLE = 0, PH_JOINED = 1, PH_LEAVING = 2, PH_DONE = 3 };

static int g_phase = PH_IDLE;
static int g_active = 0;           /* calls running with the GIL released */
static MPI_Comm g_app_comm;        /* valid while PH_JOINED */
static int g_have_app_comm = 0;

/* Events handed out per chronolog_replay_next. */
#define REPLAY_BATCH 4096
/* Seconds _finalize waits for calls still running on other threads. */
#define FINALIZE_WAIT_SECONDS 60

#define BLOCKING_BEGIN                                                                                              \
    g_active++;                                                                                                     \
    Py_BEGIN_ALLOW_THREADS
#define BLOCKING_END                                                                                                \
    Py_END_ALLOW_THREADS g_active--;

static PyObject *code_result(int code) { return PyLong_FromLong(code); }

/* ---- Argument conversion ---- */

/* A name argument as UTF-8. Returns 0 and sets *out; CL_ERR_INVALID_ARG (no exception) for a str
 * that is not encodable or holds a NUL; -100 with TypeError set for anything but a str. */
static int utf8_name(PyObject *o, const char **out, const char *what) {
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(o)->tp_name);
        return -100;
    }
    Py_ssize_t n = 0;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL) {
        PyErr_Clear();
        return CL_ERR_INVALID_ARG;
    }
    if ((size_t)n != strlen(s)) return CL_ERR_INVALID_ARG;
    *out = s;
    return 0;
}

/* A chronicle or story name of a management call: as utf8_name, and CL_ERR_INVALID_ARG for an empty
 * one even before Connect (ChronoLog checks for empty names before its connection). */
static int name_arg(PyObject *o, const char **out, const char *what) {
    int rc = utf8_name(o, out, what);
    return rc == 0 && **out == '\0' ? CL_ERR_INVALID_ARG : rc;
}

/* An unsigned 64-bit time argument. Returns 0; CL_ERR_INVALID_ARG for a negative or too large
 * int; -100 with TypeError set for a non-int. */
static int time_arg(PyObject *o, uint64_t *out, const char *what) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be int, not %.100s", what, Py_TYPE(o)->tp_name);
        return -100;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return CL_ERR_INVALID_ARG;
    }
    *out = (uint64_t)v;
    return 0;
}

/* The flags of CreateChronicle and AcquireStory: ChronoLog's C++ `int`, the C interface's uint32_t,
 * so any int of 32 bits, signed or not (a negative one is passed as its bit pattern; absent is 0).
 * Returns 0; CL_ERR_INVALID_ARG for an int of more bits (it was truncated before); -100 with
 * TypeError set for a non-int. */
static int flags_arg(PyObject *o, uint32_t *out) {
    *out = 0;
    if (o == NULL) return 0;
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "flags must be int, not %.100s", Py_TYPE(o)->tp_name);
        return -100;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return -100;
    if (overflow != 0 || v < INT32_MIN || v > (long long)UINT32_MAX) return CL_ERR_INVALID_ARG;
    *out = (uint32_t)v;
    return 0;
}

/* Attributes: a dict of str to str (None for none). Fills malloc'd arrays (free with free_attrs).
 * Returns 0; CL_ERR_INVALID_ARG for unencodable text; -100 with TypeError set for other types. */
static int attrs_arg(PyObject *o, const char ***keys, const char ***values, size_t *count) {
    *keys = NULL;
    *values = NULL;
    *count = 0;
    if (o == Py_None) return 0;
    if (!PyDict_Check(o)) {
        PyErr_Format(PyExc_TypeError, "attrs must be dict, not %.100s", Py_TYPE(o)->tp_name);
        return -100;
    }
    Py_ssize_t n = PyDict_Size(o);
    if (n == 0) return 0;
    *keys = calloc((size_t)n, sizeof(char *));
    *values = calloc((size_t)n, sizeof(char *));
    if (*keys == NULL || *values == NULL) {
        PyErr_NoMemory();
        return -100;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(o, &pos, &k, &v)) {
        int rc = utf8_name(k, &(*keys)[*count], "attribute key");
        if (rc == 0) rc = utf8_name(v, &(*values)[*count], "attribute value");
        if (rc != 0) return rc;
        (*count)++;
    }
    return 0;
}

static void free_attrs(const char **keys, const char **values) {
    free((void *)keys);
    free((void *)values);
}

/* A record argument (str as UTF-8, bytes, or any buffer) as pointer and length. `view` is filled
 * (and must be released) only when the buffer protocol was used. A str holding lone surrogates is
 * a record that is not UTF-8 as log_record() gives it back ("surrogateescape"): its own bytes are
 * logged, so events copy from story to story unchanged. Returns 0, or -1 with an exception set. */
static int record_arg(PyObject *o, const char **data, Py_ssize_t *length, Py_buffer *view, int *viewed) {
    *viewed = 0;
    if (PyUnicode_Check(o)) {
        *data = PyUnicode_AsUTF8AndSize(o, length);
        if (*data != NULL) return 0;
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear();
        PyObject *raw = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape");
        if (raw == NULL) return -1;
        int rc = PyObject_GetBuffer(raw, view, PyBUF_SIMPLE); /* the view keeps `raw` alive */
        Py_DECREF(raw);
        if (rc != 0) return -1;
        *viewed = 1;
        *data = view->buf;
        *length = view->len;
        return 0;
    }
    if (PyBytes_Check(o)) {
        *data = PyBytes_AS_STRING(o);
        *length = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) != 0) {
        PyErr_Format(PyExc_TypeError, "an event record must be str or bytes, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    *viewed = 1;
    *data = view->buf;
    *length = view->len;
    return 0;
}

/* ---- Event ---- */

typedef struct {
    PyObject_HEAD
    uint64_t time;
    uint64_t client_id;
    uint32_t index;
    PyObject *record; /* bytes */
} EventObject;

static PyTypeObject EventType;

static PyObject *event_make(const chronolog_event *e) {
    EventObject *ev = PyObject_New(EventObject, &EventType);
    if (ev == NULL) return NULL;
    ev->time = e->time;
    ev->client_id = e->client_id;
    ev->index = e->index;
    ev->record = PyBytes_FromStringAndSize(e->data, (Py_ssize_t)e->length);
    if (ev->record == NULL) {
        Py_DECREF(ev);
        return NULL;
    }
    return (PyObject *)ev;
}

static int Event_init(EventObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"event_time", "client_id", "index", "log_record", NULL};
    PyObject *time = NULL, *client = NULL, *index = NULL, *record = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O!O!O!O:Event", names, &PyLong_Type, &time, &PyLong_Type, &client,
                                     &PyLong_Type, &index, &record))
        return -1;
    unsigned long long t = time ? PyLong_AsUnsignedLongLong(time) : 0, c = client ? PyLong_AsUnsignedLongLong(client) : 0;
    unsigned long i = index ? PyLong_AsUnsignedLong(index) : 0;
    if (PyErr_Occurred()) return -1;
    if (i > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "index must fit in 32 bits");
        return -1;
    }
    PyObject *bytes;
    if (record == NULL) {
        bytes = PyBytes_FromStringAndSize("", 0);
    } else if (PyUnicode_Check(record)) {
        /* As log_record() decodes (surrogateescape), so Event(log_record=e.log_record()) keeps the bytes. */
        bytes = PyUnicode_AsEncodedString(record, "utf-8", "surrogateescape");
    } else if (PyBytes_Check(record)) {
        Py_INCREF(record);
        bytes = record;
    } else {
        PyErr_Format(PyExc_TypeError, "log_record must be str or bytes, not %.100s", Py_TYPE(record)->tp_name);
        return -1;
    }
    if (bytes == NULL) return -1;
    self->time = t;
    self->client_id = c;
    self->index = i;
    Py_XSETREF(self->record, bytes);
    return 0;
}

static void Event_dealloc(EventObject *self) {
    Py_XDECREF(self->record);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Event_time(EventObject *self, PyObject *Py_UNUSED(a)) { return PyLong_FromUnsignedLongLong(self->time); }
static PyObject *Event_client_id(EventObject *self, PyObject *Py_UNUSED(a)) {
    return PyLong_FromUnsignedLongLong(self->client_id);
}
static PyObject *Event_index(EventObject *self, PyObject *Py_UNUSED(a)) { return PyLong_FromUnsignedLong(self->index); }

static PyObject *Event_log_record(EventObject *self, PyObject *Py_UNUSED(a)) {
    if (self->record == NULL) return PyUnicode_FromString("");
    return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(self->record), PyBytes_GET_SIZE(self->record), "surrogateescape");
}

static PyObject *Event_log_record_bytes(EventObject *self, PyObject *Py_UNUSED(a)) {
    if (self->record == NULL) return PyBytes_FromStringAndSize("", 0);
    Py_INCREF(self->record);
    return self->record;
}

static PyObject *Event_repr(EventObject *self) {
    PyObject *text = Event_log_record(self, NULL);
    if (text == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("Event(%llu, %llu, %u, %R)", (unsigned long long)self->time,
                                       (unsigned long long)self->client_id, (unsigned)self->index, text);
    Py_DECREF(text);
    return r;
}

static PyObject *Event_richcompare(PyObject *a, PyObject *b, int op) {
    if (!PyObject_TypeCheck(b, &EventType) || (op != Py_EQ && op != Py_NE)) Py_RETURN_NOTIMPLEMENTED;
    EventObject *x = (EventObject *)a, *y = (EventObject *)b;
    int eq = x->time == y->time && x->client_id == y->client_id && x->index == y->index;
    if (eq) {
        eq = PyObject_RichCompareBool(x->record, y->record, Py_EQ);
        if (eq < 0) return NULL;
    }
    if (op == Py_NE) eq = !eq;
    return PyBool_FromLong(eq);
}

static PyMethodDef Event_methods[] = {
    {"time", (PyCFunction)Event_time, METH_NOARGS, "time() -> int: the event's timestamp (ns, uint64)."},
    {"client_id", (PyCFunction)Event_client_id, METH_NOARGS, "client_id() -> int: the id of the client that logged it."},
    {"index", (PyCFunction)Event_index, METH_NOARGS, "index() -> int: per client and story, 0, 1, 2, ... (uint32), going on after a re-acquire and in a story destroyed and made again."},
    {"log_record", (PyCFunction)Event_log_record, METH_NOARGS,
     "log_record() -> str: the record (UTF-8; bytes that are not UTF-8 come back as surrogate escapes)."},
    {"log_record_bytes", (PyCFunction)Event_log_record_bytes, METH_NOARGS, "log_record_bytes() -> bytes: the record as stored."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EventType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "py_chronolog_client.Event",
    .tp_basicsize = sizeof(EventObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Event(event_time=0, client_id=0, index=0, log_record='')\n\n"
              "The smallest unit of data in ChronoLog: a timestamp, the id of the client that logged it, its\n"
              "per-client index and the log record. ReplayStory returns them in an EventList.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Event_init,
    .tp_dealloc = (destructor)Event_dealloc,
    .tp_repr = (reprfunc)Event_repr,
    .tp_richcompare = Event_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_methods = Event_methods,
};

/* ---- Buffer: bytes owned by C, shared with NumPy without a copy ---- */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t length;
} BufferObject;

static PyTypeObject BufferType;

static int Buffer_getbuffer(BufferObject *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->length, 1, flags);
}

static void Buffer_dealloc(BufferObject *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t Buffer_len(BufferObject *self) { return self->length; }

static PyBufferProcs Buffer_as_buffer = {.bf_getbuffer = (getbufferproc)Buffer_getbuffer};
static PySequenceMethods Buffer_as_sequence = {.sq_length = (lenfunc)Buffer_len};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "py_chronolog_client._core.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes of a replay, exposed through the buffer protocol (numpy.frombuffer).",
    .tp_dealloc = (destructor)Buffer_dealloc,
    .tp_as_buffer = &Buffer_as_buffer,
    .tp_as_sequence = &Buffer_as_sequence,
};

/* Takes ownership of `data`. */
static PyObject *buffer_wrap(char *data, Py_ssize_t length) {
    BufferObject *b = PyObject_New(BufferObject, &BufferType);
    if (b == NULL) {
        free(data);
        return NULL;
    }
    b->data = data;
    b->length = length;
    return (PyObject *)b;
}

/* A growing malloc'd byte array, used with the GIL released. */
typedef struct {
    char *data;
    size_t length, capacity;
} Bytes;

static int bytes_append(Bytes *b, const void *p, size_t n) {
    if (b->length + n > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 4096;
        while (cap < b->length + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) return -1;
        b->data = grown;
        b->capacity = cap;
    }
    if (n) memcpy(b->data + b->length, p, n);
    b->length += n;
    return 0;
}

/* ---- StoryHandle ---- */

typedef struct {
    PyObject_HEAD
    chronolog_story *handle;
    PyObject *client; /* keeps the Client alive */
    PyObject *chronicle, *story;
    PyObject *weakrefs; /* the Client keeps weak references to its handles */
} StoryObject;

static PyTypeObject StoryType;

static void Story_dealloc(StoryObject *self) {
    if (self->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    Py_XDECREF(self->client);
    Py_XDECREF(self->chronicle);
    Py_XDECREF(self->story);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Whether a keyword of log_event is `log_string` (ChronoLog's module) or `event_string` (seed 002). */
static int record_keyword(PyObject *name) {
    return PyUnicode_Check(name)
           && (PyUnicode_CompareWithASCIIString(name, "log_string") == 0
               || PyUnicode_CompareWithASCIIString(name, "event_string") == 0);
}

/* log_event(log_string): the record, positional or by keyword. METH_FASTCALL keeps the usual
 * one-positional call as cheap as METH_O. */
static PyObject *Story_log_event(StoryObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs + nkw != 1 || (nkw == 1 && !record_keyword(PyTuple_GET_ITEM(kwnames, 0)))) {
        PyErr_SetString(PyExc_TypeError, "log_event() takes exactly one argument: log_string (str or bytes)");
        return NULL;
    }
    PyObject *record = args[0];
    const char *data;
    Py_ssize_t length;
    Py_buffer view;
    int viewed;
    if (record_arg(record, &data, &length, &view, &viewed) != 0) return NULL;
    uint64_t t = g_phase == PH_JOINED ? chronolog_log_event(self->handle, data, (size_t)length) : 0;
    if (viewed) PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(t);
}

static PyObject *Story_log(StoryObject *self, PyObject *record) {
    const char *data;
    Py_ssize_t length;
    Py_buffer view;
    int viewed;
    if (record_arg(record, &data, &length, &view, &viewed) != 0) return NULL;
    uint64_t t = 0;
    int rc = g_phase == PH_JOINED ? chronolog_log(self->handle, data, (size_t)length, &t) : CL_ERR_NO_CONNECTION;
    if (viewed) PyBuffer_Release(&view);
    return Py_BuildValue("(iK)", rc, (unsigned long long)t);
}

static PyObject *Story_log_events(StoryObject *self, PyObject *records) {
    PyObject *it = PyObject_GetIter(records);
    if (it == NULL) return NULL;
    Py_ssize_t logged = 0;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        const char *data;
        Py_ssize_t length;
        Py_buffer view;
        int viewed;
        if (record_arg(item, &data, &length, &view, &viewed) != 0) {
            Py_DECREF(item);
            Py_DECREF(it);
            return NULL;
        }
        uint64_t t = g_phase == PH_JOINED ? chronolog_log_event(self->handle, data, (size_t)length) : 0;
        if (viewed) PyBuffer_Release(&view);
        Py_DECREF(item);
        if (t == 0) break;
        logged++;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t(logged);
}

static PyObject *Story_flush(StoryObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"durable", NULL};
    int durable = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:flush", names, &durable)) return NULL;
    if (g_phase != PH_JOINED) return code_result(CL_ERR_NO_CONNECTION);
    int rc;
    BLOCKING_BEGIN
    rc = chronolog_flush(self->handle, durable, NULL);
    BLOCKING_END
    return code_result(rc);
}

static PyMethodDef Story_methods[] = {
    {"log_event", (PyCFunction)(void (*)(void))Story_log_event, METH_FASTCALL | METH_KEYWORDS,
     "log_event(log_string) -> int\n\nAppends an event whose record is `log_string` (str, logged as UTF-8, or bytes; the keyword\n"
     "may also be seed 002's `event_string`).\n"
     "Returns its timestamp (ns, uint64), or 0 on failure (a released story, a record longer than\n"
     "story.maxEventBytes, no job). Buffered: no message per event."},
    {"log", (PyCFunction)Story_log, METH_O,
     "log(record) -> (code, timestamp): log_event returning the code too (timestamp 0 on failure)."},
    {"log_events", (PyCFunction)Story_log_events, METH_O,
     "log_events(records) -> int\n\nLogs every record of an iterable of str/bytes in order; returns how many were\n"
     "logged (it stops at the first failure)."},
    {"flush", (PyCFunction)(void (*)(void))Story_flush, METH_VARARGS | METH_KEYWORDS,
     "flush(durable=False) -> int\n\nShips the buffered events and waits until the keeper holds them; with durable=True,\n"
     "until they are flushed to the HDF5 archive. Returns a code (0 on success)."},
    {NULL, NULL, 0, NULL}};

static PyObject *Story_repr(StoryObject *self) {
    return PyUnicode_FromFormat("StoryHandle(%R, %R)", self->chronicle, self->story);
}

static PyTypeObject StoryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "py_chronolog_client.StoryHandle",
    .tp_basicsize = sizeof(StoryObject),
    .tp_weaklistoffset = offsetof(StoryObject, weakrefs),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A story acquired with Client.AcquireStory: write access to it (log_event).",
    .tp_dealloc = (destructor)Story_dealloc,
    .tp_repr = (reprfunc)Story_repr,
    .tp_methods = Story_methods,
};

/* ---- Client ---- */

typedef struct {
    PyObject_HEAD
    chronolog_client *handle; /* NULL before Connect */
    int reader;
    int connected;
    int connecting;
    PyObject *handles; /* C story handle (int) -> weak reference to its StoryHandle, or NULL */
} ClientObject;

/* A client dropped while connected disconnects (flushing and releasing its stories), as ChronoLog's
 * ~Client does: its stories are not left held until the process leaves the job. Its StoryHandles
 * keep it alive, so none is left pointing at it. */
static void Client_dealloc(ClientObject *self) {
    if (self->connected && self->handle != NULL && g_phase == PH_JOINED) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        chronolog_client *c = self->handle;
        BLOCKING_BEGIN
        chronolog_disconnect(c);
        BLOCKING_END
        PyErr_Restore(type, value, traceback);
    }
    Py_XDECREF(self->handles);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Client_init(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"reader", NULL};
    int reader = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:Client", names, &reader)) return -1;
    self->reader = reader;
    return 0;
}

/* The client handle for a call, or NULL when the call must return CL_ERR_NO_CONNECTION. */
static chronolog_client *live(ClientObject *self) {
    return (self->connected && g_phase == PH_JOINED) ? self->handle : NULL;
}

static PyObject *Client_Connect(ClientObject *self, PyObject *Py_UNUSED(a)) {
    if (self->connected) {
        /* Connected already: 0, unless the rank finalized or an attach gateway dropped it. */
        chronolog_client *c = live(self);
        int rc;
        if (c == NULL) return code_result(CL_ERR_NO_CONNECTION);
        BLOCKING_BEGIN
        rc = chronolog_client_reachable(c);
        BLOCKING_END
        return code_result(rc);
    }
    if (g_phase != PH_JOINED || self->connecting) return code_result(CL_ERR_NO_CONNECTION);
    chronolog_client *c = NULL;
    int rc, mode = self->reader ? CHRONOLOG_READER : CHRONOLOG_WRITER;
    self->connecting = 1;
    BLOCKING_BEGIN
    rc = chronolog_connect(mode, &c);
    BLOCKING_END
    self->connecting = 0;
    if (rc == CL_SUCCESS) {
        self->handle = c;
        self->connected = 1;
    }
    return code_result(rc);
}

/* Disconnecting a client that is not connected (never, or any more) does nothing and returns 0, as
 * ChronoLog's ChronologClientImpl::Disconnect does. */
static PyObject *Client_Disconnect(ClientObject *self, PyObject *Py_UNUSED(a)) {
    if (!self->connected) return code_result(CL_SUCCESS);
    chronolog_client *c = live(self);
    if (c == NULL) return code_result(CL_ERR_NO_CONNECTION);
    int rc;
    BLOCKING_BEGIN
    rc = chronolog_disconnect(c);
    BLOCKING_END
    if (rc == CL_SUCCESS) self->connected = 0;
    return code_result(rc);
}

/* Keyword names are seed 002's (ChronoLog's own module takes these calls positionally only). */
static PyObject *Client_CreateChronicle(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"chronicle_name", "attrs", "flags", NULL};
    PyObject *name, *attrs, *flags_object = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:CreateChronicle", names, &name, &attrs, &flags_object)) return NULL;
    const char *n = NULL, **keys = NULL, **values = NULL;
    size_t count = 0;
    uint32_t flags = 0;
    int rc = name_arg(name, &n, "chronicle_name");
    if (rc == 0) rc = flags_arg(flags_object, &flags);
    if (rc == 0) rc = attrs_arg(attrs, &keys, &values, &count);
    chronolog_client *c = live(self);
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    if (rc == 0) {
        BLOCKING_BEGIN
        rc = chronolog_create_chronicle(c, n, keys, values, count, flags);
        BLOCKING_END
    }
    free_attrs(keys, values);
    return rc == -100 ? NULL : code_result(rc);
}

static PyObject *Client_DestroyChronicle(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"chronicle_name", NULL};
    PyObject *name;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:DestroyChronicle", names, &name)) return NULL;
    const char *n = NULL;
    int rc = name_arg(name, &n, "chronicle_name");
    chronolog_client *c = live(self);
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    if (rc == 0) {
        BLOCKING_BEGIN
        rc = chronolog_destroy_chronicle(c, n);
        BLOCKING_END
    }
    return rc == -100 ? NULL : code_result(rc);
}

static PyObject *Client_AcquireStory(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"chronicle_name", "story_name", "attrs", "flags", NULL};
    PyObject *chronicle, *story, *attrs, *flags_object = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|O:AcquireStory", names, &chronicle, &story, &attrs, &flags_object))
        return NULL;
    const char *cn = NULL, *sn = NULL, **keys = NULL, **values = NULL;
    size_t count = 0;
    uint32_t flags = 0;
    int rc = name_arg(chronicle, &cn, "chronicle_name");
    if (rc == 0) rc = name_arg(story, &sn, "story_name");
    if (rc == 0) rc = flags_arg(flags_object, &flags);
    if (rc == 0) rc = attrs_arg(attrs, &keys, &values, &count);
    chronolog_client *c = live(self);
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    chronolog_story *handle = NULL;
    if (rc == 0) {
        BLOCKING_BEGIN
        rc = chronolog_acquire_story(c, cn, sn, keys, values, count, flags, &handle);
        BLOCKING_END
    }
    free_attrs(keys, values);
    if (rc == -100) return NULL;
    if (rc != CL_SUCCESS) return Py_BuildValue("(iO)", rc, Py_None);
    /* Acquiring a story held already gives the same C handle: give the same StoryHandle too. */
    PyObject *key = PyLong_FromVoidPtr(handle), *known = NULL;
    if (key == NULL) return NULL;
    if (self->handles == NULL && (self->handles = PyDict_New()) == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    PyObject *ref = PyDict_GetItemWithError(self->handles, key);
    if (ref != NULL) known = PyWeakref_GetObject(ref); /* borrowed; Py_None once the handle died */
    if (known != NULL && known != Py_None) {
        Py_DECREF(key);
        return Py_BuildValue("(iO)", rc, known);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    StoryObject *s = PyObject_New(StoryObject, &StoryType);
    if (s == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    s->weakrefs = NULL;
    s->handle = handle;
    Py_INCREF(self);
    s->client = (PyObject *)self;
    Py_INCREF(chronicle);
    s->chronicle = chronicle;
    Py_INCREF(story);
    s->story = story;
    ref = PyWeakref_NewRef((PyObject *)s, NULL);
    int kept = ref == NULL ? -1 : PyDict_SetItem(self->handles, key, ref);
    Py_XDECREF(ref);
    Py_DECREF(key);
    if (kept != 0) {
        Py_DECREF(s);
        return NULL;
    }
    return Py_BuildValue("(iN)", rc, (PyObject *)s);
}

/* ReleaseStory / DestroyStory: (chronicle, story) -> code. */
static PyObject *story_call(ClientObject *self, PyObject *args, PyObject *kw, const char *format,
                            int (*call)(chronolog_client *, const char *, const char *)) {
    static char *names[] = {"chronicle_name", "story_name", NULL}; /* ChronoLog's keyword names */
    PyObject *chronicle, *story;
    if (!PyArg_ParseTupleAndKeywords(args, kw, format, names, &chronicle, &story)) return NULL;
    const char *cn = NULL, *sn = NULL;
    int rc = name_arg(chronicle, &cn, "chronicle_name");
    if (rc == 0) rc = name_arg(story, &sn, "story_name");
    chronolog_client *c = live(self);
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    if (rc == 0) {
        BLOCKING_BEGIN
        rc = call(c, cn, sn);
        BLOCKING_END
    }
    return rc == -100 ? NULL : code_result(rc);
}

static PyObject *Client_ReleaseStory(ClientObject *self, PyObject *args, PyObject *kw) {
    return story_call(self, args, kw, "OO:ReleaseStory", chronolog_release_story);
}

static PyObject *Client_DestroyStory(ClientObject *self, PyObject *args, PyObject *kw) {
    return story_call(self, args, kw, "OO:DestroyStory", chronolog_destroy_story);
}

/* Checks a replay's arguments and opens its cursor. Returns a code; -100 with an exception set. */
static int replay_open(ClientObject *self, PyObject *chronicle, PyObject *story, PyObject *start, PyObject *end,
                       chronolog_cursor **cursor) {
    const char *cn = NULL, *sn = NULL;
    uint64_t a = 0, b = 0;
    int rc = utf8_name(chronicle, &cn, "chronicle_name");
    if (rc == 0) rc = utf8_name(story, &sn, "story_name");
    if (rc == 0) rc = time_arg(start, &a, "start");
    if (rc == 0) rc = time_arg(end, &b, "end");
    /* A writer-only client is -11 whatever the names and times, as ChronoLog checks its mode first. */
    if (rc != -100 && !self->reader) return CL_ERR_NOT_READER_MODE;
    if (rc != 0) return rc;
    chronolog_client *c = live(self);
    if (c == NULL) return CL_ERR_NO_CONNECTION;
    BLOCKING_BEGIN
    rc = chronolog_replay_open(c, cn, sn, a, b, cursor);
    BLOCKING_END
    return rc;
}

/* Hands out the next batch with the GIL released; the cursor must be counted in g_active. */
static int replay_next(chronolog_cursor *cursor, chronolog_event *events, size_t *count) {
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = chronolog_replay_next(cursor, events, REPLAY_BATCH, count);
    Py_END_ALLOW_THREADS
    return rc;
}

static void replay_close(chronolog_cursor *cursor) {
    Py_BEGIN_ALLOW_THREADS
    chronolog_replay_close(cursor);
    Py_END_ALLOW_THREADS
}

static PyObject *Client_ReplayStory(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"chronicle_name", "story_name", "start", "end", "event_series", NULL};
    PyObject *chronicle, *story, *start, *end, *list;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO:ReplayStory", names, &chronicle, &story, &start, &end, &list))
        return NULL;
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "event_series must be an EventList, not %.100s", Py_TYPE(list)->tp_name);
        return NULL;
    }
    chronolog_cursor *cursor = NULL;
    g_active++;
    int rc = replay_open(self, chronicle, story, start, end, &cursor);
    PyObject *found = NULL;
    chronolog_event *events = NULL;
    if (rc == CL_SUCCESS) {
        found = PyList_New(0);
        events = malloc(sizeof(chronolog_event) * REPLAY_BATCH);
        if (found == NULL || events == NULL) rc = -100;
        if (events == NULL) PyErr_NoMemory();
    }
    while (rc == CL_SUCCESS) {
        size_t n = 0;
        rc = replay_next(cursor, events, &n);
        if (rc != CL_SUCCESS || n == 0) break;
        for (size_t i = 0; i < n && rc == CL_SUCCESS; i++) {
            PyObject *ev = event_make(&events[i]);
            if (ev == NULL || PyList_Append(found, ev) != 0) rc = -100;
            Py_XDECREF(ev);
        }
    }
    if (cursor != NULL) replay_close(cursor);
    g_active--;
    free(events);
    /* A partial answer (damaged archive rows) still hands over every event that could be read. */
    if (rc == CL_SUCCESS || rc == CL_ERR_PARTIAL_RESULT) {
        Py_ssize_t at = PyList_GET_SIZE(list);
        if (PyList_SetSlice(list, at, at, found) != 0) rc = -100;
    }
    Py_XDECREF(found);
    return rc == -100 ? NULL : code_result(rc);
}

/* Three byte arrays a replay fills: 20-byte records (time u64, client_id u64, index u32,
 * little-endian as on this machine), n + 1 u64 offsets, the payload. */
typedef struct {
    Bytes meta, offsets, payload;
    int failed;
} Fill;

/* chronolog_replay's callback: appends one event, its bytes read straight from the piece the
 * client received (no copy into a cursor's batch first). */
static int fill_event(const chronolog_event *e, void *user) {
    Fill *f = user;
    char row[20];
    memcpy(row, &e->time, 8);
    memcpy(row + 8, &e->client_id, 8);
    memcpy(row + 16, &e->index, 4);
    uint64_t next = (uint64_t)(f->payload.length + e->length);
    if (bytes_append(&f->meta, row, 20) || bytes_append(&f->payload, e->data, e->length)
        || bytes_append(&f->offsets, &next, 8)) {
        f->failed = 1;
        return 1;
    }
    return 0;
}

static PyObject *Client_replay_buffers(ClientObject *self, PyObject *args) {
    PyObject *chronicle, *story, *start, *end;
    if (!PyArg_ParseTuple(args, "OOOO:replay_buffers", &chronicle, &story, &start, &end)) return NULL;
    const char *cn = NULL, *sn = NULL;
    uint64_t a = 0, b = 0, zero = 0;
    int rc = utf8_name(chronicle, &cn, "chronicle_name");
    if (rc == 0) rc = utf8_name(story, &sn, "story_name");
    if (rc == 0) rc = time_arg(start, &a, "start");
    if (rc == 0) rc = time_arg(end, &b, "end");
    if (rc == 0 && !self->reader) rc = CL_ERR_NOT_READER_MODE;
    chronolog_client *c = rc == 0 ? live(self) : NULL;
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    Fill fill = {0};
    Bytes meta = {0}, offsets = {0}, payload = {0};
    if (rc == 0) {
        if (bytes_append(&fill.offsets, &zero, 8) != 0) fill.failed = 1;
        if (!fill.failed) {
            BLOCKING_BEGIN
            rc = chronolog_replay(c, cn, sn, a, b, fill_event, &fill);
            BLOCKING_END
        }
        if (fill.failed) rc = -101; /* out of memory (not CL_ERR_UNKNOWN, which is -1) */
        meta = fill.meta;
        offsets = fill.offsets;
        payload = fill.payload;
    }
    if (rc == -101) {
        free(meta.data);
        free(offsets.data);
        free(payload.data);
        return PyErr_NoMemory();
    }
    if (rc != CL_SUCCESS && rc != CL_ERR_PARTIAL_RESULT) {
        free(meta.data);
        free(offsets.data);
        free(payload.data);
        return rc == -100 ? NULL : Py_BuildValue("(iOOO)", rc, Py_None, Py_None, Py_None);
    }
    return Py_BuildValue("(iNNN)", rc, buffer_wrap(meta.data, (Py_ssize_t)meta.length),
                         buffer_wrap(offsets.data, (Py_ssize_t)offsets.length),
                         buffer_wrap(payload.data, (Py_ssize_t)payload.length));
}

/* ReplayLast(chronicle, story, count, event_series): the events are gathered into buffers while
 * the GIL is released (as replay_buffers), then appended to event_series as Event objects. */
static PyObject *Client_ReplayLast(ClientObject *self, PyObject *args) {
    PyObject *chronicle, *story, *count, *list;
    if (!PyArg_ParseTuple(args, "OOOO:ReplayLast", &chronicle, &story, &count, &list)) return NULL;
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "event_series must be an EventList, not %.100s", Py_TYPE(list)->tp_name);
        return NULL;
    }
    const char *cn = NULL, *sn = NULL;
    uint64_t n = 0, zero = 0;
    int rc = utf8_name(chronicle, &cn, "chronicle_name");
    if (rc == 0) rc = utf8_name(story, &sn, "story_name");
    if (rc == 0) rc = time_arg(count, &n, "count");
    if (rc == 0 && !self->reader) rc = CL_ERR_NOT_READER_MODE;
    chronolog_client *c = rc == 0 ? live(self) : NULL;
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    Fill fill = {0};
    if (rc == 0) {
        if (bytes_append(&fill.offsets, &zero, 8) != 0) fill.failed = 1;
        if (!fill.failed) {
            BLOCKING_BEGIN
            rc = chronolog_replay_last(c, cn, sn, n, fill_event, &fill, NULL);
            BLOCKING_END
        }
        if (fill.failed) rc = -101;
    }
    PyObject *found = NULL;
    if (rc == CL_SUCCESS || rc == CL_ERR_PARTIAL_RESULT) {
        found = PyList_New(0);
        size_t events = fill.meta.length / 20;
        const uint64_t *offsets = (const uint64_t *)fill.offsets.data;
        for (size_t i = 0; found != NULL && i < events; i++) {
            chronolog_event e = {0};
            memcpy(&e.time, fill.meta.data + 20 * i, 8);
            memcpy(&e.client_id, fill.meta.data + 20 * i + 8, 8);
            memcpy(&e.index, fill.meta.data + 20 * i + 16, 4);
            e.data = fill.payload.data + offsets[i];
            e.length = (size_t)(offsets[i + 1] - offsets[i]);
            PyObject *ev = event_make(&e);
            if (ev == NULL || PyList_Append(found, ev) != 0) rc = -100;
            Py_XDECREF(ev);
            if (rc == -100) break;
        }
        if (found == NULL) rc = -100;
        if (rc != -100) {
            Py_ssize_t at = PyList_GET_SIZE(list);
            if (PyList_SetSlice(list, at, at, found) != 0) rc = -100;
        }
    }
    Py_XDECREF(found);
    free(fill.meta.data);
    free(fill.offsets.data);
    free(fill.payload.data);
    if (rc == -101) return PyErr_NoMemory();
    return rc == -100 ? NULL : code_result(rc);
}

/* chronolog_name_fn: appends the name and its NUL to a Bytes. */
static int gather_name(const char *name, size_t length, void *user) { return bytes_append(user, name, length + 1) != 0; }

/* The result of ShowChronicles / ShowStories: the names (NUL-separated in `b`) as a new list, also
 * put into `into` when it is a list (C++ callers pass their vector); on an error `into` (or an empty
 * list) unchanged, as ChronoLog returns its vector. NULL with an exception set. */
static PyObject *names_result(int rc, const Bytes *b, PyObject *into) {
    if (rc != CL_SUCCESS) {
        if (into != NULL && PyList_Check(into)) {
            Py_INCREF(into);
            return into;
        }
        return PyList_New(0);
    }
    PyObject *names = PyList_New(0);
    for (size_t at = 0; names != NULL && at < b->length;) {
        size_t n = strlen(b->data + at);
        PyObject *name = PyUnicode_DecodeUTF8(b->data + at, (Py_ssize_t)n, "surrogateescape");
        if (name == NULL || PyList_Append(names, name) != 0) Py_CLEAR(names);
        Py_XDECREF(name);
        at += n + 1;
    }
    if (names != NULL && into != NULL && PyList_Check(into)
        && PyList_SetSlice(into, 0, PyList_GET_SIZE(into), names) != 0) Py_CLEAR(names);
    return names;
}

static PyObject *Client_ShowChronicles(ClientObject *self, PyObject *args) {
    PyObject *into = NULL;
    if (!PyArg_ParseTuple(args, "|O:ShowChronicles", &into)) return NULL;
    chronolog_client *c = live(self);
    Bytes b = {0};
    int rc = CL_ERR_NO_CONNECTION;
    if (c != NULL) {
        BLOCKING_BEGIN
        rc = chronolog_show_chronicles(c, gather_name, &b);
        BLOCKING_END
    }
    PyObject *result = names_result(rc, &b, into);
    free(b.data);
    return result;
}

static PyObject *Client_ShowStories(ClientObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"chronicle_name", "stories", NULL};
    PyObject *chronicle, *into = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:ShowStories", names, &chronicle, &into)) return NULL;
    const char *cn = NULL;
    int rc = utf8_name(chronicle, &cn, "chronicle_name");
    if (rc == -100) return NULL;
    chronolog_client *c = live(self);
    if (rc == 0 && c == NULL) rc = CL_ERR_NO_CONNECTION;
    Bytes b = {0};
    if (rc == 0) {
        BLOCKING_BEGIN
        rc = chronolog_show_stories(c, cn, gather_name, &b);
        BLOCKING_END
    }
    PyObject *result = names_result(rc, &b, into);
    free(b.data);
    return result;
}

static PyObject *Client_client_id(ClientObject *self, PyObject *Py_UNUSED(a)) {
    chronolog_client *c = live(self);
    return PyLong_FromUnsignedLongLong(c == NULL ? 0 : chronolog_client_id(c));
}

static PyObject *Client_is_reader(ClientObject *self, void *Py_UNUSED(closure)) { return PyBool_FromLong(self->reader); }

static PyMethodDef Client_methods[] = {
    {"Connect", (PyCFunction)Client_Connect, METH_NOARGS,
     "Connect() -> int\n\nEstablishes the client's session with the service (ChronoVisor). 0 on success (also when\n"
     "connected already); -8 (CL_ERR_NO_CONNECTION) when this process is not part of a ChronoLog job\n"
     "or the service does not answer."},
    {"Disconnect", (PyCFunction)Client_Disconnect, METH_NOARGS,
     "Disconnect() -> int\n\nFlushes and releases every story this client holds, then closes the session. 0 on success\n"
     "(also when not connected: nothing to do, as in ChronoLog); -8 when the service is gone."},
    {"CreateChronicle", (PyCFunction)(void (*)(void))Client_CreateChronicle, METH_VARARGS | METH_KEYWORDS,
     "CreateChronicle(chronicle_name, attrs, flags=0) -> int\n\nCreates a chronicle; attrs (dict of str to str) are stored.\n"
     "flags may be left out, as ChronoLog 3's CreateChronicle(chronicle_name, attrs) does.\n"
     "0; -6 (CL_ERR_CHRONICLE_EXISTS); -2 (a bad name); -8 (not connected)."},
    {"DestroyChronicle", (PyCFunction)(void (*)(void))Client_DestroyChronicle, METH_VARARGS | METH_KEYWORDS,
     "DestroyChronicle(chronicle_name) -> int\n\n0; -3 (does not exist); -4 (a story of it is acquired); -8."},
    {"AcquireStory", (PyCFunction)(void (*)(void))Client_AcquireStory, METH_VARARGS | METH_KEYWORDS,
     "AcquireStory(chronicle_name, story_name, attrs, flags=0) -> (int, StoryHandle | None)\n\n"
     "Opens the story for logging, creating it if needed (flags may be left out, as in ChronoLog 3's\n"
     "AcquireStory(chronicle_name, story_name, attrs)). (0, handle); (-3, None) when the\n"
     "chronicle does not exist; (-8, None) when not connected; (-7, None) without keepers."},
    {"ReleaseStory", (PyCFunction)(void (*)(void))Client_ReleaseStory, METH_VARARGS | METH_KEYWORDS,
     "ReleaseStory(chronicle_name, story_name) -> int\n\nFlushes this client's events of the story and releases it.\n"
     "0; -5 (CL_ERR_NOT_ACQUIRED) when this client does not hold it; -8."},
    {"DestroyStory", (PyCFunction)(void (*)(void))Client_DestroyStory, METH_VARARGS | METH_KEYWORDS,
     "DestroyStory(chronicle_name, story_name) -> int\n\n0; -3 (does not exist); -4 (acquired); -8."},
    {"ShowChronicles", (PyCFunction)Client_ShowChronicles, METH_VARARGS,
     "ShowChronicles([chronicles]) -> list[str]\n\nThe names of every chronicle, sorted (byte-wise UTF-8). As ChronoLog's, it returns\n"
     "a list, not a code: an empty one when the client is not connected. A list given as argument\n"
     "(ChronoLog's C++ out-parameter) is filled too."},
    {"ShowStories", (PyCFunction)(void (*)(void))Client_ShowStories, METH_VARARGS | METH_KEYWORDS,
     "ShowStories(chronicle_name[, stories]) -> list[str]\n\nThe names of a chronicle's stories, sorted; an empty list when the\n"
     "chronicle does not exist or the client is not connected (ChronoLog returns no code either).\n"
     "A list given as `stories` is filled too."},
    {"ReplayStory", (PyCFunction)(void (*)(void))Client_ReplayStory, METH_VARARGS | METH_KEYWORDS,
     "ReplayStory(chronicle_name, story_name, start, end, event_series) -> int\n\n"
     "Appends to event_series (an EventList) every event of the story with start <= time < end,\n"
     "in event order (time, client id, index). The range is half-open, [start, end), as ChronoLog's\n"
     "implementation replays it (seed documentation says [start, end]). Sees events not archived\n"
     "yet. The GIL is released while the query runs; several threads may replay at once.\n"
     "0; -11 (CL_ERR_NOT_READER_MODE) for a client made without a ClientQueryServiceConf;\n"
     "-3 (no such story); -10 (no player); -12 (timed out); -8 (not connected); -18\n"
     "(CL_ERR_PARTIAL_RESULT: damaged archive rows were left out, the events that could be read\n"
     "are appended). On an error event_series is left as it was."},
    {"ReplayLast", (PyCFunction)Client_ReplayLast, METH_VARARGS,
     "ReplayLast(chronicle_name, story_name, count, event_series) -> int\n\n"
     "Appends to event_series (an EventList) the story's last `count` events, in event order\n"
     "(ChronoLog 3.1's \"last N\"): served from the keepers' memory where they still hold them,\n"
     "from the archive for the rest. While the story is recorded, the last of its complete\n"
     "events (no earlier event can still arrive). Not part of seed 002's API. Codes as for\n"
     "ReplayStory; -2 for a count above 2**32 - 1."},
    {"replay_buffers", (PyCFunction)Client_replay_buffers, METH_VARARGS,
     "replay_buffers(chronicle, story, start, end) -> (code, records, offsets, payload)\n\n"
     "The replay as three buffers (see Client.replay_array): 20-byte records (time u64, client_id\n"
     "u64, index u32), n + 1 u64 payload offsets and the payload bytes; None for each on an error."},
    {"client_id", (PyCFunction)Client_client_id, METH_NOARGS,
     "client_id() -> int: the id the service gave this client (the client_id of its events); 0 when not connected."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Client_getset[] = {
    {"is_reader", (getter)Client_is_reader, NULL, "Whether the client may replay (made with a query conf).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "py_chronolog_client._core.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C part of py_chronolog_client.Client.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Client_init,
    .tp_dealloc = (destructor)Client_dealloc,
    .tp_methods = Client_methods,
    .tp_getset = Client_getset,
};

/* ---- Module functions: the job ---- */

static PyObject *core_join(PyObject *Py_UNUSED(m), PyObject *args) {
    const char *config = NULL;
    if (!PyArg_ParseTuple(args, "|z:_join", &config)) return NULL;
    if (g_phase != PH_IDLE) return code_result(CL_ERR_INVALID_ARG);
    MPI_Comm app;
    int rc;
    BLOCKING_BEGIN
    rc = chronolog_join(config, &app);
    BLOCKING_END
    if (rc == CL_SUCCESS) {
        g_phase = PH_JOINED;
        g_app_comm = app;
        g_have_app_comm = 1;
    } else {
        g_phase = PH_DONE;
    }
    return code_result(rc);
}

static PyObject *core_attach(PyObject *Py_UNUSED(m), PyObject *args) {
    const char *run_dir = NULL;
    int port = 0;
    if (!PyArg_ParseTuple(args, "|zi:_attach", &run_dir, &port)) return NULL;
    if (g_phase != PH_IDLE) return code_result(CL_ERR_INVALID_ARG);
    int rc;
    BLOCKING_BEGIN
    rc = chronolog_attach(run_dir, port);
    BLOCKING_END
    if (rc == CL_SUCCESS) g_phase = PH_JOINED; /* a failed attach may be tried again */
    return code_result(rc);
}

static PyObject *core_init(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *fcomm = Py_None;
    const char *config = NULL;
    if (!PyArg_ParseTuple(args, "|Oz:_init", &fcomm, &config)) return NULL;
    if (g_phase != PH_IDLE) return Py_BuildValue("(ii)", CL_ERR_INVALID_ARG, 0);
    MPI_Comm comm = MPI_COMM_WORLD;
    if (fcomm != Py_None) {
        long f = PyLong_AsLong(fcomm);
        if (f == -1 && PyErr_Occurred()) return NULL;
        comm = MPI_Comm_f2c((MPI_Fint)f);
    }
    MPI_Comm app;
    int rc, is_client = 0;
    BLOCKING_BEGIN
    rc = chronolog_init(comm, config, &app, &is_client);
    BLOCKING_END
    if (rc == CL_SUCCESS && is_client) {
        g_phase = PH_JOINED;
        g_app_comm = app;
        g_have_app_comm = 1;
    } else {
        g_phase = PH_DONE;
    }
    return Py_BuildValue("(ii)", rc, is_client);
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static PyObject *core_finalize(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a)) {
    if (g_phase != PH_JOINED) return code_result(CL_ERR_NO_CONNECTION);
    g_phase = PH_LEAVING; /* new calls return -8 (log_event 0) from here on */
    for (int waited = 0; g_active > 0 && waited < FINALIZE_WAIT_SECONDS * 100; waited++) {
        Py_BEGIN_ALLOW_THREADS
        sleep_ms(10);
        Py_END_ALLOW_THREADS
    }
    if (g_active > 0) PySys_WriteStderr("py_chronolog_client: leaving the job while %d call(s) still run\n", g_active);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = chronolog_finalize();
    Py_END_ALLOW_THREADS
    g_phase = PH_DONE;
    g_have_app_comm = 0;
    return code_result(rc);
}

static PyObject *core_phase(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a)) { return PyLong_FromLong(g_phase); }

static PyObject *core_app_comm_f(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a)) {
    if (g_phase != PH_JOINED || !g_have_app_comm) Py_RETURN_NONE;
    return PyLong_FromLong((long)MPI_Comm_c2f(g_app_comm));
}

static PyObject *core_code_name(PyObject *Py_UNUSED(m), PyObject *arg) {
    int code = (int)PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(chronolog_code_name(code));
}

static PyObject *core_strerror(PyObject *Py_UNUSED(m), PyObject *arg) {
    int code = (int)PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(chronolog_strerror(code));
}

static PyMethodDef core_methods[] = {
    {"_join", core_join, METH_VARARGS, "_join(config_path=None) -> code: chronolog_join (collective over MPI_COMM_WORLD)."},
    {"_attach", core_attach, METH_VARARGS,
     "_attach(run_dir=None, portal_port=0) -> code: chronolog_attach (a running service, docs/ATTACH.md; not collective)."},
    {"_init", core_init, METH_VARARGS,
     "_init(fortran_comm=None, config_path=None) -> (code, is_client): chronolog_init (collective)."},
    {"_finalize", core_finalize, METH_NOARGS, "_finalize() -> code: chronolog_finalize (collective over MPI_COMM_WORLD)."},
    {"_phase", core_phase, METH_NOARGS, "_phase() -> int: 0 idle, 1 joined, 2 leaving, 3 left or refused."},
    {"_app_comm_f", core_app_comm_f, METH_NOARGS, "_app_comm_f() -> int | None: the application communicator (Fortran handle)."},
    {"code_name", core_code_name, METH_O, "code_name(code) -> str: ChronoLog's name of a return code ('CL_ERR_NOT_EXIST')."},
    {"strerror", core_strerror, METH_O, "strerror(code) -> str: a short description of a return code."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "_core", "py_chronolog_client over libchronolog.", -1,
                                         core_methods, NULL, NULL, NULL, NULL};

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) != 0) return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) != 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__core(void) {
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) return NULL;
    if (add_type(m, &EventType, "Event") || add_type(m, &StoryType, "StoryHandle") || add_type(m, &ClientType, "Client")
        || add_type(m, &BufferType, "Buffer")) {
        Py_DECREF(m);
        return NULL;
    }
    static const struct {
        const char *name;
        int value;
    } codes[] = {{"CL_SUCCESS", CL_SUCCESS},
                 {"CL_ERR_UNKNOWN", CL_ERR_UNKNOWN},
                 {"CL_ERR_INVALID_ARG", CL_ERR_INVALID_ARG},
                 {"CL_ERR_NOT_EXIST", CL_ERR_NOT_EXIST},
                 {"CL_ERR_ACQUIRED", CL_ERR_ACQUIRED},
                 {"CL_ERR_NOT_ACQUIRED", CL_ERR_NOT_ACQUIRED},
                 {"CL_ERR_CHRONICLE_EXISTS", CL_ERR_CHRONICLE_EXISTS},
                 {"CL_ERR_NO_KEEPERS", CL_ERR_NO_KEEPERS},
                 {"CL_ERR_NO_CONNECTION", CL_ERR_NO_CONNECTION},
                 {"CL_ERR_NOT_AUTHORIZED", CL_ERR_NOT_AUTHORIZED},
                 {"CL_ERR_NO_PLAYERS", CL_ERR_NO_PLAYERS},
                 {"CL_ERR_NOT_READER_MODE", CL_ERR_NOT_READER_MODE},
                 {"CL_ERR_QUERY_TIMED_OUT", CL_ERR_QUERY_TIMED_OUT},
                 {"CL_ERR_PROTOCOL_VERSION_MISMATCH", CL_ERR_PROTOCOL_VERSION_MISMATCH},
                 {"CL_ERR_PARTIAL_RESULT", CL_ERR_PARTIAL_RESULT}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (PyModule_AddIntConstant(m, codes[i].name, codes[i].value) != 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
