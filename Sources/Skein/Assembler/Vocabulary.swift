/// Names with a meaning of their own in assembly text. Each is interned first, so its symbol's id
/// is its raw value and recognising one is an integer comparison.
enum Keyword: Int32, CaseIterable {
    /// Statements (`func`, `end`, `const`), literals (`nil`, `true`, `false`), `regs=`, the
    /// directives `.line` and `.source`, the entry function and the mnemonic of scratch loads;
    /// then the module statements `module`, `export` and `import`.
    case `func`, end, const, `nil`, `true`, `false`, regs, line, source, main, load
    case module, export, `import`

    /// The keyword's symbol in a table that started from `Vocabulary.initial`.
    var symbol: Symbol { Symbol(id: rawValue) }

    /// How the keyword is written.
    var spelling: String {
        switch self {
        case .func: "func"
        case .end: "end"
        case .const: "const"
        case .nil: "nil"
        case .true: "true"
        case .false: "false"
        case .regs: "regs"
        case .line: "line"
        case .source: "source"
        case .main: "main"
        case .load: "load"
        case .module: "module"
        case .export: "export"
        case .import: "import"
        }
    }
}

/// The symbols an assembly starts with: the keywords, then every name an instruction is written
/// with, and the instruction forms of each name by symbol id, so that finding the forms of a
/// mnemonic is an array index, with no string made or hashed.
struct Vocabulary {
    /// The keywords and mnemonics, interned.
    var symbols: SymbolTable
    /// Instruction forms by symbol id (empty for a keyword that is no mnemonic), immediate forms
    /// first so the compact encoding wins when the value fits.
    var forms: [FormList]

    /// Built once; each assembly starts from a copy (copy-on-write: the arrays are shared until
    /// the assembly interns its first name of its own).
    static let initial: Vocabulary = {
        var symbols = SymbolTable()
        for keyword in Keyword.allCases {
            let symbol = symbols.intern(keyword.spelling)
            precondition(symbol == keyword.symbol, "keywords are interned in order")
        }
        var forms: [[Opcode]] = Array(repeating: [], count: symbols.count)
        func add(_ name: String, _ opcode: Opcode) {
            let symbol = Int(symbols.intern(name).id)
            if symbol == forms.count { forms.append([]) }
            forms[symbol].append(opcode)
        }
        for opcode in Opcode.allCases {
            add(opcode.mnemonic, opcode)
            if opcode.family != opcode.mnemonic { add(opcode.family, opcode) }
        }
        func hasImmediate(_ opcode: Opcode) -> Bool { opcode.operands.contains { $0.kind == .immediate } }
        let ordered = forms.map { forms in FormList(forms.filter(hasImmediate) + forms.filter { !hasImmediate($0) }) }
        return Vocabulary(symbols: symbols, forms: ordered)
    }()

    /// The instruction forms written with `symbol`, empty if it names none.
    func forms(of symbol: Symbol) -> FormList {
        Int(symbol.id) < forms.count ? forms[Int(symbol.id)] : FormList([])
    }
}

/// The instruction forms one name is written with (at most seven), packed into one word so that
/// finding them copies eight bytes and touches no reference count.
struct FormList: RandomAccessCollection {
    /// Opcode `k` in byte `k`, the count in byte 7.
    private let packed: UInt64

    /// The list of `opcodes`, in order.
    init(_ opcodes: [Opcode]) {
        precondition(opcodes.count < 8, "at most seven forms share a name")
        var packed = UInt64(opcodes.count) << 56
        for (k, opcode) in opcodes.enumerated() { packed |= UInt64(opcode.rawValue) << (8 * UInt64(k)) }
        self.packed = packed
    }

    /// 0.
    var startIndex: Int { 0 }
    /// The number of forms.
    var endIndex: Int { Int(truncatingIfNeeded: packed >> 56) }

    /// Form `index`, in order of preference.
    subscript(index: Int) -> Opcode {
        // Every byte below the count was written from an opcode's raw value.
        Opcode(rawValue: UInt8(truncatingIfNeeded: packed >> (8 * UInt64(index))))!
    }
}
