import CChronoLog
import ChronoClient
import ChronoModel

// Clients, chronicles and stories (chronolog.h). None is collective.

/// `chronolog_connect`: see chronolog.h.
@_cdecl("chronolog_connect")
public func cabiConnect(_ mode: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        guard let session = CABIRuntime.shared.session else { throw .noConnection("not joined or finalized") }
        guard let out else { throw .invalidArgument("client is NULL") }
        let clientMode: ClientMode
        switch mode {
        case CHRONOLOG_WRITER: clientMode = .writer
        case CHRONOLOG_READER: clientMode = .writerReader
        default: throw .invalidArgument("unknown client mode \(mode)")
        }
        let client = ChronoLogClient(session: session, mode: clientMode)
        try client.connect()
        out.pointee = CInput.opaque(CABIRuntime.shared.keep(ClientBox(client: client)))
    }
}

/// `chronolog_disconnect`: see chronolog.h.
@_cdecl("chronolog_disconnect")
public func cabiDisconnect(_ client: OpaquePointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in try CInput.client(client).disconnect() }
}

/// `chronolog_client_reachable`: see chronolog.h.
@_cdecl("chronolog_client_reachable")
public func cabiClientReachable(_ client: OpaquePointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in try CInput.client(client).requireReachable() }
}

/// `chronolog_client_id`: see chronolog.h.
@_cdecl("chronolog_client_id")
public func cabiClientId(_ client: OpaquePointer?) -> UInt64 {
    (try? CInput.client(client))?.clientId?.rawValue ?? 0
}

/// `chronolog_create_chronicle`: see chronolog.h.
@_cdecl("chronolog_create_chronicle")
public func cabiCreateChronicle(_ client: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                _ keys: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                                _ count: Int, _ flags: UInt32) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        try c.createChronicle(try CInput.string(name, "name"), attributes: try CInput.attributes(keys, values, count: count),
                              flags: flags)
    }
}

/// `chronolog_destroy_chronicle`: see chronolog.h.
@_cdecl("chronolog_destroy_chronicle")
public func cabiDestroyChronicle(_ client: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        try c.destroyChronicle(try CInput.string(name, "name"))
    }
}

/// `chronolog_acquire_story`: see chronolog.h.
@_cdecl("chronolog_acquire_story")
public func cabiAcquireStory(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?,
                             _ keys: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                             _ count: Int, _ flags: UInt32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        let chronicleName = try CInput.string(chronicle, "chronicle"), storyName = try CInput.string(story, "story")
        let attributes = try CInput.attributes(keys, values, count: count)
        guard let out else { throw .invalidArgument("story handle out-parameter is NULL") }
        let handle = try c.acquireStory(chronicleName, storyName, attributes: attributes, flags: flags)
        out.pointee = CInput.opaque(CABIRuntime.shared.box(for: handle))
    }
}

/// `chronolog_release_story`: see chronolog.h.
@_cdecl("chronolog_release_story")
public func cabiReleaseStory(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        try c.releaseStory(try CInput.string(chronicle, "chronicle"), try CInput.string(story, "story"))
    }
}

/// `chronolog_destroy_story`: see chronolog.h.
@_cdecl("chronolog_destroy_story")
public func cabiDestroyStory(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        try c.destroyStory(try CInput.string(chronicle, "chronicle"), try CInput.string(story, "story"))
    }
}

/// `chronolog_show_chronicles`: see chronolog.h.
@_cdecl("chronolog_show_chronicles")
public func cabiShowChronicles(_ client: OpaquePointer?, _ fn: chronolog_name_fn?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        guard let fn else { throw .invalidArgument("callback is NULL") }
        CInput.each(try c.showChronicles(), fn, user)
    }
}

/// `chronolog_show_stories`: see chronolog.h.
@_cdecl("chronolog_show_stories")
public func cabiShowStories(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ fn: chronolog_name_fn?,
                            _ user: UnsafeMutableRawPointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        let chronicleName = try CInput.string(chronicle, "chronicle")
        guard let fn else { throw .invalidArgument("callback is NULL") }
        CInput.each(try c.showStories(chronicleName), fn, user)
    }
}
