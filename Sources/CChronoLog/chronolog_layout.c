// The C target that carries chronolog.h (the C interface of libchronolog). The functions are
// implemented in Swift (Sources/ChronoLogC, @_cdecl); this file only pins the layout the Swift
// side and C callers share.
#include "chronolog.h"

_Static_assert(sizeof(chronolog_event) == 40, "chronolog_event is 40 bytes on LP64");
_Static_assert(offsetof(chronolog_event, data) == 24, "chronolog_event.data follows time, client_id, index, reserved");
