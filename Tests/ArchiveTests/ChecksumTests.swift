import ChronoArchive
import Testing

/// `ArchiveChecksum` is stored in every archive's index and rounds rows, so its value is part of
/// the file format: the vectorised kernel must give exactly the documented formula's value for
/// every length and alignment (tails, lanes, unaligned starts).
@Suite("Archive checksum")
struct ChecksumTests {
    /// The documented definition, one word at a time, as numpy would compute it.
    static func reference(_ bytes: [UInt8]) -> UInt64 {
        let k1: UInt64 = 0x9E37_79B9_7F4A_7C15, k2: UInt64 = 0xBF58_476D_1CE4_E5B9, k3: UInt64 = 0x94D0_49BB_1331_11EB
        var sum: UInt64 = 0
        var i = 0
        while i * 8 < bytes.count {
            var w: UInt64 = 0
            for j in 0..<8 where i * 8 + j < bytes.count { w |= UInt64(bytes[i * 8 + j]) << (8 * UInt64(j)) }
            var x = (w ^ (UInt64(i) &* k1)) &* k2
            x ^= x >> 31
            sum &+= x
            i += 1
        }
        let h = UInt64(bytes.count) &* k3 &+ sum
        return h ^ (h >> 29)
    }

    /// Deterministic bytes (splitmix64).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var z = seed
        return (0..<count).map { _ in
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: x ^ (x >> 31))
        }
    }

    @Test("every length from 0 to 300 bytes, at every start alignment, equals the definition")
    func lengthsAndAlignments() {
        let source = Self.bytes(300 + 8, seed: 7)
        for offset in 0..<8 {
            for length in 0...300 {
                let slice = Array(source[offset..<(offset + length)])
                let got = source.withUnsafeBytes { ArchiveChecksum.hash(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)])) }
                #expect(got == Self.reference(slice), "length \(length) at offset \(offset)")
            }
        }
    }

    @Test("each compiled kernel the CPU runs, called explicitly, equals the definition at every length, alignment and 1 MiB",
          arguments: ArchiveChecksum.Kernel.allCases)
    func everyKernel(kernel: ArchiveChecksum.Kernel) throws {
        try #require(kernel.isSupported || kernel != .plain, "the plain kernel always runs")
        guard kernel.isSupported else {
            // Not this CPU: say so in the log rather than pass silently.
            print("ChecksumTests: kernel \(kernel) not supported on this CPU (selected: \(ArchiveChecksum.Kernel.selected)); skipped")
            return
        }
        let source = Self.bytes(300 + 8, seed: 11)
        for offset in 0..<8 {
            for length in 0...300 {
                let got = source.withUnsafeBytes {
                    ArchiveChecksum.hash(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)]), kernel: kernel)
                }
                #expect(got == Self.reference(Array(source[offset..<(offset + length)])), "\(kernel): length \(length) at offset \(offset)")
            }
        }
        let large = Self.bytes((1 << 20) + 5, seed: 3)
        #expect(large.withUnsafeBytes { ArchiveChecksum.hash($0, kernel: kernel) } == Self.reference(large), "\(kernel): 1 MiB")
    }

    @Test("the kernel chosen at load time is the best one the CPU runs, and agrees with every other")
    func selectedKernel() {
        let supported = ArchiveChecksum.Kernel.allCases.filter(\.isSupported)
        #expect(ArchiveChecksum.Kernel.selected == supported.max { $0.rawValue < $1.rawValue })
        let data = Self.bytes(4099, seed: 5)
        let values = Set(supported.compactMap { k in data.withUnsafeBytes { ArchiveChecksum.hash($0, kernel: k) } })
        #expect(values == [ArchiveChecksum.hash(data)])
    }

    @Test("a large buffer equals the definition, and a flipped byte or a swapped word changes it")
    func largeAndSensitive() {
        var data = Self.bytes((1 << 20) + 13, seed: 42)
        data[8 * 1000 + 3] = 1
        data[8 * 1001 + 3] = 2
        let original = ArchiveChecksum.hash(data)
        #expect(original == Self.reference(data))
        #expect(ArchiveChecksum.hash([UInt8]()) == Self.reference([]))
        data[123_457] ^= 0x10
        #expect(ArchiveChecksum.hash(data) != original)
        data[123_457] ^= 0x10
        data.swapAt(8 * 1000 + 3, 8 * 1001 + 3)  // same bytes, other words: the position salt sees it
        #expect(ArchiveChecksum.hash(data) != original)
    }

    @Test("the checksum of parts equals the definition over their concatenation: random splits, empty parts, parts shorter than a word, 1 MiB")
    func parts() {
        let data = Self.bytes((1 << 20) + 13, seed: 11)
        var z: UInt64 = 5
        func next(_ bound: Int) -> Int {
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Int((z >> 33) % UInt64(bound))
        }
        data.withUnsafeBytes { all in
            for trial in 0..<400 {
                // A slice at a random start, cut at random places (some within words, some empty).
                let start = next(64), length = trial < 300 ? next(400) : all.count - start - next(64)
                var cuts = (0..<(trial < 300 ? next(6) : 64)).map { _ in next(length + 1) }
                cuts.append(contentsOf: [0, length])
                cuts.sort()
                let parts = zip(cuts, cuts.dropFirst()).map { UnsafeRawBufferPointer(rebasing: all[(start + $0)..<(start + $1)]) }
                let whole = Array(all[start..<(start + length)])
                #expect(ArchiveChecksum.hash(parts: parts) == Self.reference(whole), "trial \(trial): \(length) bytes in \(parts.map(\.count))")
            }
        }
        #expect(ArchiveChecksum.hash(parts: []) == Self.reference([]))
    }
}
