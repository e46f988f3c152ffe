/// The operations an instruction names by an atom constant, `io rD, :read, rArgs, n` and
/// `str rD, :split, rArgs, n`: one instruction for a family of operations, resolved from the
/// atom once, when a program is loaded, so the opcode table, the verifier and the assembler stay
/// small while the families grow, and running one costs a table load instead of a name lookup.
///
/// Invariant: the verifier rejects an instruction whose operation is not one of its family's or
/// whose argument count is outside the operation's `arity`, so every such instruction of a
/// loaded program has a kind (`LoadedProgram.ioOperations`, `LoadedProgram.stringOperations`).
protocol NamedOperation: CaseIterable, RawRepresentable where RawValue == UInt8 {
    /// The atom programs name it by.
    var name: String { get }
    /// The argument counts it accepts.
    var arity: ClosedRange<Int> { get }
    /// What the family is called in error messages ("IO operation").
    static var family: String { get }
    /// Every operation by its name (made once; the assembler and the loader look up each
    /// instruction's name in it, so a large module costs one hash lookup per instruction).
    static var byName: [String: Self] { get }
}

extension NamedOperation {
    /// The operation named `name`, or nil if there is none.
    init?(name: String) {
        guard let kind = Self.byName[name] else { return nil }
        self = kind
    }

    /// Why `name` names no operation, for the verifier's and the assembler's errors.
    static func unknown(_ name: String?) -> String {
        let known = allCases.map { ":" + $0.name }.sorted().joined(separator: ", ")
        return "unknown \(family)\(name.map { " :" + $0 } ?? " (it must be an atom)"); known: \(known)"
    }

    /// Why `count` arguments do not fit this operation.
    func wrongCount(_ count: Int) -> String { "\(Self.family) :\(name) takes \(describedArity), not \(count)" }

    /// How the argument count reads in an error message ("1 to 3 arguments").
    var describedArity: String {
        let count = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
        return count + (arity.upperBound == 1 ? " argument" : " arguments")
    }
}

/// The check the assembler, the verifier and the loader make of an instruction that names an
/// operation: the one place that knows which opcode names which family.
enum NamedOperations {
    /// What an instruction's operation constant and argument count amount to.
    enum Check {
        /// A known operation, by raw value, with an argument count it accepts.
        case resolved(UInt8)
        /// The constant names no operation of the family (the message says why).
        case unknownName(String)
        /// The operation does not take this many arguments.
        case wrongCount(String)
    }

    /// The check of `opcode` naming constant `index` (in range) of `constants` with `count`
    /// arguments, or nil when `opcode` names no operation (then the constant is not looked at:
    /// other instructions keep other things in that field).
    static func check(_ opcode: Opcode, constant index: Int, of constants: [Constant], atoms: [String], count: Int) -> Check? {
        func name() -> String? {
            if case .atom(let a) = constants[index], Int(a) < atoms.count { atoms[Int(a)] } else { nil }
        }
        switch opcode {
        case .io: return check(IOOperationKind.self, name(), count)
        case .str: return check(StringOperationKind.self, name(), count)
        default: return nil
        }
    }

    private static func check<Kind: NamedOperation>(_: Kind.Type, _ name: String?, _ count: Int) -> Check {
        guard let kind = name.flatMap(Kind.init(name:)) else { return .unknownName(Kind.unknown(name)) }
        guard kind.arity.contains(count) else { return .wrongCount(kind.wrongCount(count)) }
        return .resolved(kind.rawValue)
    }
}
