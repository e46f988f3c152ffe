import Skein

/// libFuzzer entry point: arbitrary bytes (as UTF-8, invalid sequences replaced) through the
/// assembler.
///
/// Beyond "no crash", a `fatalError` (which keeps its message in optimised builds) marks each
/// broken property:
/// - what the assembler accepts, the verifier accepts (`vm asm` must never write a module that
///   `vm check` rejects);
/// - an accepted module survives the binary format unchanged;
/// - its disassembly assembles again to the same code, constants and atoms.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAssembler(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let module: Module
    do { module = try Assembler.assemble(text, file: "fuzz.ska") } catch { return 0 }
    do { try Verifier.verify(module) } catch {
        fatalError("the assembler accepted a module the verifier rejects: \(error)")
    }
    guard (try? BinaryFormat.decode(BinaryFormat.encode(module))) == module else {
        fatalError("an assembled module does not survive encoding and decoding")
    }
    let again: Module
    do { again = try Assembler.assemble(Disassembler.disassemble(module), file: "fuzz.ska") } catch {
        fatalError("the disassembly of an assembled module does not assemble: \(error)")
    }
    guard again.functions.map(\.code) == module.functions.map(\.code), again.constants == module.constants,
          again.atoms == module.atoms else {
        fatalError("disassembling and reassembling changed the module")
    }
    return 0
}
