/// The stable 64-bit hash used for chronicle and story ids: FNV-1a 64.
///
/// `h = 0xcbf29ce484222325; for each byte b: h = (h ^ b) &* 0x100000001b3`.
/// It depends only on the bytes, never on the process, platform or Swift version (unlike `Hasher`),
/// so ids are the same on every rank, in every run and in the archive.
public enum StableHash {
    /// The FNV-1a 64 offset basis.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The FNV-1a 64 prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a 64 of `bytes`, continuing from `seed` (the offset basis by default).
    @inlinable
    public static func fnv1a64<S: Sequence>(_ bytes: S, seed: UInt64 = offsetBasis) -> UInt64 where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* prime
        }
        return hash
    }

    /// 16 lowercase hexadecimal digits of `value`, zero-padded.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
