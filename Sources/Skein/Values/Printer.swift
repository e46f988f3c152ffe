/// Produces the printed form of values (`print`, `tostr`, error reports).
///
/// Printing never fails: a value nested deeper than `ValueDepth.limit` prints `…` at that
/// depth, and output stops with `…` past `maxBytes`, so a self-containing array (which would
/// print forever) costs a bounded amount of memory and time.
struct Printer {
    /// Longest printed form, in UTF-8 bytes (8 MiB).
    static let maxBytes = 8 << 20

    let atoms: AtomTable
    let program: LoadedProgram

    /// The printed form of `v`; a top-level string is raw unless `quoted`.
    /// Error reports use `limit: Printer.reportBytes`, so an operand in a message stays readable.
    func text(_ v: Value, quoted: Bool = false, limit: Int = Printer.maxBytes) -> String {
        var out = ""
        write(v, into: &out, quoted: quoted, depth: 0, limit: limit)
        return out
    }

    /// Longest form of a value quoted in an error report.
    static let reportBytes = 512

    private func write(_ v: Value, into out: inout String, quoted: Bool, depth: Int, limit: Int) {
        guard depth < ValueDepth.limit, out.utf8.count < limit else { out += "…"; return }
        if v.isSmallInt { out += String(v.smallIntValue); return }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: out += String(v.boxedIntValue)
            case .float: out += Printer.float(v.floatValue)
            case .string:
                let s = String(decoding: v.stringBytes, as: UTF8.self)
                out += quoted ? Disassembler.quote(s) : s
            case .binary:
                // Always as its literal: a binary is not text, so even on its own it is not
                // written raw (that is what the IO write of a binary is for).
                out += Disassembler.binaryLiteral(v.stringBytes, limit: limit - out.utf8.count)
            case .tuple:
                out += "{"
                sequence(v.elements, into: &out, depth: depth, limit: limit)
                out += "}"
            case .array, .arrayStorage:
                out += "["
                sequence(v.elements, into: &out, depth: depth, limit: limit)
                out += "]"
            case .mapFlat, .mapRoot, .mapNode, .mapCollision:
                map(v, into: &out, depth: depth, limit: limit)
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

    private func sequence(_ elements: UnsafeMutableBufferPointer<UInt64>, into out: inout String, depth: Int, limit: Int) {
        for (i, element) in elements.enumerated() {
            if i > 0 { out += ", " }
            if out.utf8.count >= limit { out += "…"; return }
            write(Value(raw: element), into: &out, quoted: true, depth: depth + 1, limit: limit)
        }
    }

    /// `#{k => v, …}` with the keys in term order (in canonical order if they nest too deeply
    /// to be sorted: printing never fails).
    private func map(_ v: Value, into out: inout String, depth: Int, limit: Int) {
        let entries = (try? MapLayout.sortedEntries(v, atoms: atoms, depth: depth + 1)) ?? MapLayout.entries(v)
        out += "#{"
        for (i, entry) in entries.enumerated() {
            if i > 0 { out += ", " }
            if out.utf8.count >= limit { out += "…"; break }
            write(Value(raw: entry.key), into: &out, quoted: true, depth: depth + 1, limit: limit)
            out += " => "
            write(Value(raw: entry.value), into: &out, quoted: true, depth: depth + 1, limit: limit)
        }
        out += "}"
    }

    /// Shortest text that reads back as the same double, always with a '.' or exponent.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        let text = "\(d)"
        return text.contains(".") || text.contains("e") ? text : text + ".0"
    }
}
