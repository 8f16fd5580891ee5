"""ClientPortalServiceConf and ClientQueryServiceConf: seed 002's connection parameters."""


class _ServiceConf:
    """Four connection fields, positional, with defaults; type-checked."""

    _defaults = ("ofi+sockets", "127.0.0.1", 0, 0)

    __slots__ = ("proto", "ip", "port", "provider_id")

    def __init__(self, proto=None, ip=None, port=None, provider_id=None):
        d = self._defaults
        self.proto = _typed(d[0] if proto is None else proto, str, "proto")
        self.ip = _typed(d[1] if ip is None else ip, str, "ip")
        self.port = _typed(d[2] if port is None else port, int, "port")
        self.provider_id = _typed(d[3] if provider_id is None else provider_id, int, "provider_id")

    def __repr__(self):
        return f"{type(self).__name__}({self.proto!r}, {self.ip!r}, {self.port}, {self.provider_id})"

    def __eq__(self, other):
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None


def _typed(value, kind, name):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


class ClientPortalServiceConf(_ServiceConf):
    """ClientPortalServiceConf(proto, ip, port, provider_id): the ChronoVisor portal service
    (chronicle and story management, logging). Defaults: "ofi+sockets", "127.0.0.1", 5555, 55.

    In an MPI job the service is found by rank; the fields are checked and kept."""

    __slots__ = ()
    _defaults = ("ofi+sockets", "127.0.0.1", 5555, 55)


class ClientQueryServiceConf(_ServiceConf):
    """ClientQueryServiceConf(proto, ip, port, provider_id): the ChronoPlayer query service
    (replay). Defaults: "ofi+sockets", "127.0.0.1", 5557, 57. Giving one to Client makes a
    writer and reader client."""

    __slots__ = ()
    _defaults = ("ofi+sockets", "127.0.0.1", 5557, 57)
