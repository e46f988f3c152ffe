@testable import Skein

/// Turns a fuzzer's raw bytes into the module a target exercises.
public enum FuzzInput {
    /// `bytes` with the header's payload length and CRC-32 rewritten to match the payload.
    ///
    /// Random mutations almost never keep a checksum valid, so without this nearly every input
    /// would stop at the checksum test and the decoder and verifier behind it would go unexplored
    /// (a hostile file can carry a valid checksum just as easily). Inputs too short for a header,
    /// or without the magic number, are returned unchanged.
    public static func resigned(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= BinaryFormat.headerSize, bytes.starts(with: BinaryFormat.magic) else { return bytes }
        var signed = bytes
        let payload = bytes[BinaryFormat.headerSize...]
        store(UInt32(truncatingIfNeeded: payload.count), into: &signed, at: 8)
        store(CRC32.checksum(payload), into: &signed, at: 12)
        return signed
    }

    /// The verified module `bytes` describe, or nil when they do not load: a binary module
    /// (re-signed) when they start with the magic number, assembly text otherwise.
    public static func verifiedModule(_ bytes: [UInt8]) -> Module? {
        let module: Module
        if bytes.starts(with: BinaryFormat.magic) {
            guard let decoded = try? BinaryFormat.decode(resigned(bytes)) else { return nil }
            module = decoded
        } else {
            guard let assembled = try? Assembler.assemble(String(decoding: bytes, as: UTF8.self), file: "fuzz.ska") else { return nil }
            module = assembled
        }
        guard (try? Verifier.verify(module)) != nil else { return nil }
        return module
    }

    /// Whether any function of `module` contains an instruction with `opcode`.
    public static func module(_ module: Module, uses opcode: Opcode) -> Bool {
        module.functions.contains { f in f.instructions.contains { $0.opcode == opcode } }
    }

    /// Writes `value` little-endian into four bytes of `bytes` from `offset`.
    private static func store(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }
}
