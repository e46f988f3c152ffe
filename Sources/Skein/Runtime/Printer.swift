/// Produces the printed form of values (`print`, `tostr`, error reports).
struct Printer {
    let atoms: AtomTable
    let program: LoadedProgram

    /// The printed form of `v`; a top-level string is raw unless `quoted`.
    func text(_ v: Value, quoted: Bool = false) -> String {
        var out = ""
        write(v, into: &out, quoted: quoted, depth: 0)
        return out
    }

    private func write(_ v: Value, into out: inout String, quoted: Bool, depth: Int) {
        guard depth < 200 else { out += "…"; return }
        if v.isSmallInt { out += String(v.smallIntValue); return }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: out += String(v.boxedIntValue)
            case .float: out += Printer.float(v.floatValue)
            case .string:
                let s = String(decoding: v.stringBytes, as: UTF8.self)
                out += quoted ? Disassembler.quote(s) : s
            case .tuple:
                out += "{"
                sequence(v.tupleElements, v.tupleCount, into: &out, depth: depth)
                out += "}"
            case .array, .arrayStorage:
                out += "["
                if v.arrayCount > 0 { sequence(v.arrayElements, v.arrayCount, into: &out, depth: depth) }
                out += "]"
            }
            return
        }
        switch v.immediateTag {
        case Value.specialTag: out += v == .nil ? "nil" : (v == .true ? "true" : "false")
        case Value.atomTag: out += Disassembler.atomLiteral(atoms.name(Int(v.immediatePayload)))
        case Value.refTag: out += "#Ref<\(v.immediatePayload)>"
        case Value.functionTag: out += "#Fun<\(program.functionName(Int(v.immediatePayload)))>"
        default: out += "<0.\(v.immediatePayload)>"
        }
    }

    private func sequence(_ p: UnsafeMutablePointer<UInt64>, _ n: Int, into out: inout String, depth: Int) {
        for i in 0..<n {
            if i > 0 { out += ", " }
            write(Value(raw: p[i]), into: &out, quoted: true, depth: depth + 1)
        }
    }

    /// Shortest text that reads back as the same double, always with a '.' or exponent.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        let text = "\(d)"
        return text.contains(".") || text.contains("e") ? text : text + ".0"
    }
}
