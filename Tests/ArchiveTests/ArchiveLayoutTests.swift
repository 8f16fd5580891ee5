import ChronoArchive
import Testing

@Test func layoutVersionIsSet() { #expect(ArchiveLayout.version >= 1) }
