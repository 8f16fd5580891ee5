/// ChronoModel: placeholder until the model lands.
public enum ChronoModelVersion { public static let protocolVersion: UInt16 = 1 }
