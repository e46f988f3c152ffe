import FuzzSupport
import Skein

/// libFuzzer entry point: arbitrary bytes through the `.skb` decoder and the verifier.
///
/// Inputs are re-signed first (see `FuzzInput.resigned`). Beyond "no crash", two properties
/// are checked, each a `fatalError` (a crash libFuzzer records) when broken:
/// - the encoding is canonical: a program that decodes encodes back to exactly the same bytes;
/// - a program that verifies can be disassembled (what `vm disasm` does with a loaded file).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.resigned(Array(UnsafeBufferPointer(start: data, count: size)))
    guard let program = try? BinaryFormat.decodeProgram(bytes) else { return 0 }
    guard BinaryFormat.encode(program) == bytes else { fatalError("a decoded program does not encode back to its bytes") }
    guard (try? Verifier.verify(program)) != nil else { return 0 }
    _ = Disassembler.disassemble(program)
    return 0
}
