/// The `.skb` binary format: a program of one or more modules (the entry first).
///
/// ```
/// offset  size  field
/// 0       4     magic "SKBC"
/// 4       2     format version (little-endian), currently 3
/// 6       2     flags, must be 0
/// 8       4     payload length in bytes
/// 12      4     CRC-32 (IEEE) of the payload
/// 16      …     payload:
///               u32      module count (at least 1), then each module:
///               string   source name
///               string   module name ("" for a main program)
///               u32      atom count, then each atom as a string
///               u32      constant count, then each constant (tag byte + data)
///               u32      function count, then each function:
///                          string name, u16 arity, u16 register count,
///                          u32 code word count, the words (u64),
///                          u32 line entry count, each (u32 pc, u32 line)
///               u32      export count, each a u32 function index
///               u32      import count, each: string module, string function, u16 arity
///               u32      count of imported modules (`import NAME`), each a string
/// ```
/// Version 1 (before modules) held one module without the name, exports and imports; version 2
/// had no binary constants (tag 9) nor the `str` instruction. Both are refused with a message
/// saying to assemble the source again.
/// Strings are a u32 byte count followed by UTF-8 bytes. All integers are little-endian.
/// Constant tags: 0 nil, 1 false, 2 true, 3 int (i64), 4 float (u64 bits), 5 string,
/// 6 atom (u32), 7 function (u32), 8 tuple (u32 count, then the elements), 9 binary (u32 byte
/// count, then the bytes, any values).
public enum BinaryFormat {
    /// The four magic bytes.
    public static let magic: [UInt8] = Array("SKBC".utf8)
    /// The version this build reads and writes.
    public static let version: UInt16 = 3
    /// Size of the fixed header.
    public static let headerSize = 16
    /// Deepest tuple nesting accepted in a constant (a hostile file cannot recurse without bound):
    /// `{{}}` nests 2 deep. The decoder, the verifier and the assembler all enforce this one limit.
    public static let maxConstantDepth = 64
    /// Most registers a function can have: the register count is stored in a u16, so the highest
    /// register is r65534.
    public static let maxRegisters = Int(UInt16.max)

    // MARK: Writing

    /// Serialises a module as a program of its own.
    public static func encode(_ module: Module) -> [UInt8] { encode(Program([module])) }

    /// Serialises a program: its modules, the entry first.
    public static func encode(_ program: Program) -> [UInt8] {
        var w = ByteWriter()
        w.u32(program.modules.count)
        for module in program.modules { w.module(module) }
        var header = ByteWriter()
        header.bytes.append(contentsOf: magic)
        header.u16(Int(version))
        header.u16(0)
        header.u32(w.bytes.count)
        header.u32(Int(CRC32.checksum(w.bytes)))
        return header.bytes + w.bytes
    }

    // MARK: Reading

    /// Parses a file that holds one module (as `vm asm` writes for a program that imports
    /// nothing); a file of several modules is refused here and read with `decodeProgram`.
    public static func decode(_ bytes: [UInt8]) throws(LoadError) -> Module {
        let program = try decodeProgram(bytes)
        guard program.modules.count == 1 else {
            throw LoadError("offset \(headerSize)", "the file holds \(program.modules.count) modules, not one (a linked program: load it as a Program)")
        }
        return program.entry
    }

    /// Parses a program, checking the header, the checksum and the structure. This does not
    /// verify the code; `Verifier` does that.
    public static func decodeProgram(_ bytes: [UInt8]) throws(LoadError) -> Program {
        guard bytes.count >= headerSize else {
            throw LoadError("offset 0", "file is \(bytes.count) bytes, too short for a Skein module (header is \(headerSize) bytes)")
        }
        guard Array(bytes[0..<4]) == magic else {
            throw LoadError("offset 0", "not a Skein module (bad magic number; expected \"SKBC\")")
        }
        var header = ByteReader(bytes: bytes[0..<headerSize])
        header.offset = 4
        let version = try header.u16("format version")
        guard version == BinaryFormat.version else {
            let why = version < BinaryFormat.version ? "written by an older Skein; assemble the program again from its source with 'vm asm'"
                : "written by a newer Skein"
            throw LoadError("offset 4", "unsupported format version \(version), \(why) (this VM reads version \(BinaryFormat.version))")
        }
        guard try header.u16("flags") == 0 else { throw LoadError("offset 6", "unknown flags set") }
        let length = Int(try header.u32("payload length"))
        let checksum = try header.u32("checksum")
        guard bytes.count - headerSize == length else {
            throw LoadError("offset 8", "payload length says \(length) bytes but the file holds \(bytes.count - headerSize) (truncated or padded file)")
        }
        let payload = bytes[headerSize...]
        guard CRC32.checksum(payload) == checksum else {
            throw LoadError("offset 12", "checksum mismatch: the file is corrupted")
        }
        var r = ByteReader(bytes: payload)
        let moduleCount = try r.count("module count", minimumBytesEach: 28)
        guard moduleCount > 0 else { throw LoadError("offset \(headerSize)", "the file holds no module") }
        var modules: [Module] = []
        for _ in 0..<moduleCount { modules.append(try r.module()) }
        guard r.offset == bytes.count else {
            throw LoadError("offset \(r.offset)", "\(bytes.count - r.offset) unexpected bytes after the last module")
        }
        return Program(modules)
    }
}

/// Appends little-endian fields to a byte array.
private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u16(_ v: Int) { append(UInt64(v), count: 2) }
    mutating func u32(_ v: Int) { append(UInt64(v), count: 4) }
    mutating func u64(_ v: UInt64) { append(v, count: 8) }
    mutating func string(_ s: String) {
        u32(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }
    /// A u32 count, then each item as `write` writes it.
    mutating func list<Item>(_ items: [Item], _ write: (inout ByteWriter, Item) -> Void) {
        u32(items.count)
        for item in items { write(&self, item) }
    }

    /// One module of the payload, in the layout the format's documentation gives.
    mutating func module(_ module: Module) {
        string(module.sourceName)
        string(module.name ?? "")
        list(module.atoms) { $0.string($1) }
        list(module.constants) { $0.constant($1) }
        list(module.functions) { w, f in
            w.string(f.name)
            w.u16(f.arity)
            w.u16(f.registerCount)
            w.list(f.code) { $0.u64($1) }
            w.list(f.lines) { w, entry in
                w.u32(Int(entry.pc))
                w.u32(Int(entry.line))
            }
        }
        list(module.exports) { $0.u32($1) }
        list(module.imports) { w, f in
            w.string(f.module)
            w.string(f.name)
            w.u16(f.arity)
        }
        list(module.requires) { $0.string($1) }
    }

    mutating func constant(_ c: Constant) {
        switch c {
        case .nil: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .int(let i): bytes.append(3); u64(UInt64(bitPattern: i))
        case .float(let bits): bytes.append(4); u64(bits)
        case .string(let s): bytes.append(5); string(s)
        case .binary(let b): bytes.append(9); u32(b.count); bytes.append(contentsOf: b)
        case .atom(let a): bytes.append(6); u32(Int(a))
        case .function(let f): bytes.append(7); u32(Int(f))
        case .tuple(let elements):
            bytes.append(8)
            u32(elements.count)
            for e in elements { constant(e) }
        }
    }
    /// Appends the low `count` bytes of `v`, little-endian, in one copy.
    private mutating func append(_ v: UInt64, count: Int) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0.prefix(count)) }
    }
}

/// Reads little-endian fields, naming the field and offset when the input runs out.
private struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var offset: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.offset = bytes.startIndex
    }

    mutating func u16(_ what: String) throws(LoadError) -> UInt16 { UInt16(try read(2, what)) }
    mutating func u32(_ what: String) throws(LoadError) -> UInt32 { UInt32(try read(4, what)) }
    mutating func u64(_ what: String) throws(LoadError) -> UInt64 { try read(8, what) }

    /// A count of items, each taking at least `minimumBytesEach` bytes: rejected at once if the
    /// rest of the file cannot hold that many, so a hostile count cannot make us allocate.
    mutating func count(_ what: String, minimumBytesEach: Int) throws(LoadError) -> Int {
        let start = offset
        let n = Int(try u32(what))
        guard n <= (bytes.endIndex - offset) / minimumBytesEach else {
            throw LoadError("offset \(start)", "\(what) is \(n), more than the rest of the file can hold (truncated or corrupted)")
        }
        return n
    }

    mutating func string(_ what: String) throws(LoadError) -> String {
        let start = offset
        let n = try count(what, minimumBytesEach: 1)
        let slice = bytes[offset..<offset + n]
        offset += n
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw LoadError("offset \(start)", "\(what) is not valid UTF-8")
        }
        return s
    }

    /// A u32 count of items, each at least `minimumBytesEach` bytes long, then each as `read`
    /// reads it (given its position in the list).
    mutating func list<Item>(_ what: String, minimumBytesEach: Int, _ read: (inout ByteReader, Int) throws(LoadError) -> Item) throws(LoadError) -> [Item] {
        let n = try count(what, minimumBytesEach: minimumBytesEach)
        var items: [Item] = []
        items.reserveCapacity(n)
        for i in 0..<n { items.append(try read(&self, i)) }
        return items
    }

    /// One module of the payload.
    mutating func module() throws(LoadError) -> Module {
        let sourceName = try string("source name")
        let name = try string("module name of \(sourceName)")
        let atoms = try list("atom count", minimumBytesEach: 4) { r, i throws(LoadError) in try r.string("atom \(i)") }
        let constants = try list("constant count", minimumBytesEach: 1) { r, i throws(LoadError) in try r.constant("constant \(i)", depth: 0) }
        let functions = try list("function count", minimumBytesEach: 16) { r, i throws(LoadError) in
            let name = try r.string("name of function \(i)")
            let arity = Int(try r.u16("arity of \(name)"))
            let registers = Int(try r.u16("register count of \(name)"))
            let code = try r.list("code length of \(name)", minimumBytesEach: 8) { r, _ throws(LoadError) in try r.u64("code of \(name)") }
            let lines = try r.list("line table length of \(name)", minimumBytesEach: 8) { r, _ throws(LoadError) in
                LineEntry(pc: try r.u32("line table of \(name)"), line: try r.u32("line table of \(name)"))
            }
            return FunctionDefinition(name: name, arity: arity, registerCount: registers, code: code, lines: lines)
        }
        let exports = try list("export count", minimumBytesEach: 4) { r, _ throws(LoadError) in Int(try r.u32("export")) }
        let imports = try list("import count", minimumBytesEach: 10) { r, i throws(LoadError) in
            ExternalFunction(module: try r.string("module of import \(i)"), name: try r.string("function of import \(i)"),
                             arity: Int(try r.u16("arity of import \(i)")))
        }
        let requires = try list("imported module count", minimumBytesEach: 4) { r, i throws(LoadError) in try r.string("imported module \(i)") }
        return Module(sourceName: sourceName, name: name.isEmpty ? nil : name, atoms: atoms, constants: constants, functions: functions,
                      exports: exports, imports: imports, requires: requires)
    }

    mutating func constant(_ what: String, depth: Int) throws(LoadError) -> Constant {
        let start = offset
        let tag = UInt8(try read(1, what))
        switch tag {
        case 0: return .nil
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(Int64(bitPattern: try u64(what)))
        case 4: return .float(bitPattern: try u64(what))
        case 5: return .string(try string(what))
        case 6: return .atom(try u32(what))
        case 7: return .function(try u32(what))
        case 9:
            let n = try count(what, minimumBytesEach: 1)
            defer { offset += n }
            return .binary(Array(bytes[offset..<offset + n]))
        case 8:
            guard depth < BinaryFormat.maxConstantDepth else {
                throw LoadError("offset \(start)", "\(what) nests tuples deeper than \(BinaryFormat.maxConstantDepth) levels")
            }
            let n = try count(what, minimumBytesEach: 1)
            var elements: [Constant] = []
            elements.reserveCapacity(n)
            for _ in 0..<n { elements.append(try constant(what, depth: depth + 1)) }
            return .tuple(elements)
        default:
            throw LoadError("offset \(start)", "\(what) has unknown type tag \(tag)")
        }
    }

    private mutating func read(_ n: Int, _ what: String) throws(LoadError) -> UInt64 {
        guard bytes.endIndex - offset >= n else {
            throw LoadError("offset \(offset)", "file ends in the middle of \(what) (truncated)")
        }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += n
        return v
    }
}

/// CRC-32 (IEEE 802.3), for detecting corrupted modules.
///
/// Slicing-by-8: eight tables let the loop fold eight bytes per step instead of one (a module is
/// mostly code words, and the byte-at-a-time loop was an eighth of `vm asm`'s time on 50 MB).
enum CRC32 {
    /// `tables[k * 256 + b]`: the CRC of byte `b` followed by `k` zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 { t[k * 256 + n] = t[(k - 1) * 256 + n] >> 8 ^ t[Int(t[(k - 1) * 256 + n] & 0xFF)] }
        }
        return t
    }()

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        if let crc = bytes.withContiguousStorageIfAvailable(checksum) { return crc }
        return Array(bytes).withUnsafeBufferPointer(checksum)
    }

    private static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        guard let base = bytes.baseAddress else { return 0 }
        tables.withUnsafeBufferPointer { t in
            let raw = UnsafeRawPointer(base)
            var k = 0
            while k + 8 <= bytes.count {
                let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)) ^ UInt64(crc)
                crc = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int(word >> 8 & 0xFF)]
                    ^ t[5 * 256 + Int(word >> 16 & 0xFF)] ^ t[4 * 256 + Int(word >> 24 & 0xFF)]
                    ^ t[3 * 256 + Int(word >> 32 & 0xFF)] ^ t[2 * 256 + Int(word >> 40 & 0xFF)]
                    ^ t[1 * 256 + Int(word >> 48 & 0xFF)] ^ t[Int(word >> 56)]
                k += 8
            }
            while k < bytes.count {
                crc = t[Int((crc ^ UInt32(base[k])) & 0xFF)] ^ (crc >> 8)
                k += 1
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
