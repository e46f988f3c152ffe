/// Prints a module as assembly that reassembles to the same bytes: canonical mnemonics,
/// constants inline in order of first use, `regs=` on every function, `.line` directives
/// reproducing the line table and `.source` the source name; a library module's `module`,
/// `import` and `export` lines, and functions of other modules by their qualified names.
public enum Disassembler {
    /// The assembly text of each module of `program` (which must have passed
    /// `Verifier.verify`), the entry first, as one file each would hold.
    public static func disassemble(_ program: Program) -> [String] {
        program.modules.map(disassemble)
    }

    /// The assembly text of `module`, which must have passed `Verifier.verify`.
    public static func disassemble(_ module: Module) -> String {
        var out = ".source \(quote(module.sourceName))\n"
        if let name = module.name { out += "module \(name)\n" }
        if !module.requires.isEmpty { out += "import \(module.requires.joined(separator: ", "))\n" }
        if !module.exports.isEmpty {
            out += "export " + module.exports.map { "\(module.functions[$0].name)/\(module.functions[$0].arity)" }.joined(separator: ", ") + "\n"
        }
        for f in module.functions {
            out += "\nfunc \(f.name)/\(f.arity) regs=\(f.registerCount)\n"
            var targets = Set<Int>()
            var previous: UInt64?
            for instruction in f.instructions {
                for (spec, value) in instruction.operandsAndValues where spec.kind == .label { targets.insert(value) }
                // A pair the assembler would fuse, kept apart here (built another way): a label
                // on the branch keeps it apart when the text is assembled again.
                if let previous, Opcode.fusedBackEdge(previous, instruction.instruction.word) != nil { targets.insert(instruction.pc) }
                previous = instruction.instruction.word
            }
            var lineStarts: [Int: UInt32] = [:]
            for entry in f.lines { lineStarts[Int(entry.pc)] = entry.line }
            for instruction in f.instructions {
                let pc = instruction.pc
                if let line = lineStarts[pc] { out += "    .line \(line)\n" }
                if targets.contains(pc) { out += "L\(pc):\n" }
                let operands = instruction.operandsAndValues.map { spec, value in operandText(spec, value, module: module) }
                out += "    \(instruction.opcode.mnemonic)"
                if !operands.isEmpty { out += " " + operands.joined(separator: ", ") }
                out += "\n"
            }
            out += "end\n"
        }
        return out
    }

    private static func operandText(_ spec: OperandSpec, _ value: Int, module: Module) -> String {
        switch spec.kind {
        case .register: "r\(value)"
        case .immediate, .count: "\(value)"
        case .label: "L\(value)"
        case .function: functionName(value, module: module)
        case .constant: literal(module.constants[value], module: module)
        }
    }

    /// A constant written as an assembly literal.
    static func literal(_ c: Constant, module: Module) -> String {
        switch c {
        case .nil: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return "\(n)"
        case .float(let bits): return Printer.float(Double(bitPattern: bits))  // one spelling of floats
        case .string(let s): return quote(s)
        case .binary(let bytes): return bytes.withUnsafeBytes { binaryLiteral($0) }
        case .atom(let a): return atomLiteral(module.atoms[Int(a)])
        case .function(let f): return "@" + functionName(Int(f), module: module)
        case .tuple(let elements): return "{" + elements.map { literal($0, module: module) }.joined(separator: ", ") + "}"
        }
    }

    /// Function index `slot` as an operand: the name of one of the module's functions, or
    /// `module.name/arity` for an import.
    private static func functionName(_ slot: Int, module: Module) -> String {
        slot < module.functions.count ? module.functions[slot].name : module.imports[slot - module.functions.count].description
    }

    /// `:name`, or `:"text"` when the name is not a plain identifier.
    static func atomLiteral(_ name: String) -> String {
        let plain = name.first.map { $0.isLetter || $0 == "_" } ?? false
            && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "?" || $0 == "!" }
        return plain ? ":" + name : ":" + quote(name)
    }

    /// A binary literal, `b"…"`: printable ASCII as itself, the escapes of strings for
    /// newline, tab, return, NUL, backslash and quote, and `\xHH` for every other byte. The one
    /// spelling of binaries, in disassembly and in printed values alike. Past `limit` bytes of
    /// text it ends with `…"` (the printer's bound; disassembly has none).
    static func binaryLiteral(_ bytes: UnsafeRawBufferPointer, limit: Int = .max) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("b\"".utf8)
        out.reserveCapacity(min(bytes.count, limit) + 3)
        for byte in bytes {
            if out.count >= limit { out += Array("…".utf8); break }
            switch byte {
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x00: out += [0x5C, UInt8(ascii: "0")]
            case 0x5C, 0x22: out += [0x5C, byte]
            case 0x20..<0x7F: out.append(byte)
            default: out += [0x5C, UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }

    /// A string literal with escapes.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
