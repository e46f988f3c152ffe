/// Static facts about one function of a loaded program, laid out for the interpreter.
struct FunctionInfo {
    /// Absolute index of its first code word.
    var entry: Int
    /// Number of arguments.
    var arity: Int
    /// Registers in its frame.
    var registers: Int
}

/// A verified module linked for execution: all code in one array with absolute jump targets,
/// constants materialised as values (heap constants live in immortal literal storage that no
/// collector moves), atoms mapped to VM-wide ids.
///
/// Immutable after `init` and shared by every worker, so it is `Sendable`; the interpreter reads
/// it through raw pointers without reference counting.
final class LoadedProgram: @unchecked Sendable {
    // Sendable: nothing changes after `init` (its raw buffers and literals are written only there).
    /// The module it was built from (for names, line tables and disassembly).
    public let module: Module
    /// Linked code.
    let code: UnsafeMutablePointer<UInt64>
    /// Per-function facts, indexed like `module.functions`.
    let functions: UnsafeMutablePointer<FunctionInfo>
    /// Constant values, indexed like `module.constants`.
    let constants: UnsafeMutablePointer<UInt64>
    /// The IO operation named by each constant that an `io` instruction uses, as
    /// `IOOperationKind` raw values (`LoadedProgram.noIOOperation` elsewhere): resolved here, as
    /// host functions are, so running an `io` costs one load, not a name lookup.
    let ioOperations: UnsafeMutablePointer<UInt8>
    /// The `ioOperations` entry of a constant no `io` instruction names.
    static let noIOOperation = UInt8.max
    /// Index of `main/0`.
    let mainIndex: Int
    /// Immortal storage of heap constants.
    private var literals: [UnsafeMutablePointer<UInt64>] = []

    /// Verifies and links `module`, interning its atoms into `atoms`.
    init(_ module: Module, atoms: AtomTable) throws(LoadError) {
        try Verifier.verify(module)
        self.module = module
        self.mainIndex = module.functionIndex(named: "main")!
        let total = module.functions.reduce(0) { $0 + $1.code.count }
        code = .allocate(capacity: max(total, 1))
        functions = .allocate(capacity: max(module.functions.count, 1))
        ioOperations = .allocate(capacity: max(module.constants.count, 1))
        ioOperations.initialize(repeating: LoadedProgram.noIOOperation, count: max(module.constants.count, 1))
        var entry = 0
        for (i, f) in module.functions.enumerated() {
            functions[i] = FunctionInfo(entry: entry, arity: f.arity, registers: f.registerCount)
            // Jump targets become absolute: each label operand moves by the function's entry
            // (the verifier made sure every target, hence every sum, fits its field).
            for instruction in f.instructions {
                var values = instruction.values
                for (k, spec) in instruction.operands.enumerated() where spec.kind == .label { values[k] += entry }
                let linked = instruction.opcode.operands.encode(instruction.opcode, values)
                code[entry + instruction.pc] = linked.word
                if let extra = linked.extra { code[entry + instruction.pc + 1] = extra }
                if instruction.opcode == .io {
                    // The verifier has checked that the constant is an atom naming an operation.
                    let constant = linked.word.fieldB
                    guard case .atom(let a) = module.constants[constant], let kind = IOOperationKind(name: module.atoms[Int(a)]) else {
                        throw LoadError("function \(f.name)/\(f.arity), word \(instruction.pc) (io)", IOOperationKind.unknown(nil))
                    }
                    ioOperations[constant] = kind.rawValue
                }
            }
            entry += f.code.count
        }
        let atomIds = module.atoms.map { atoms.intern($0) }
        constants = .allocate(capacity: max(module.constants.count, 1))
        for (i, c) in module.constants.enumerated() {
            constants[i] = materialise(c, atomIds: atomIds).raw
        }
    }

    deinit {
        code.deallocate()
        functions.deallocate()
        constants.deallocate()
        ioOperations.deallocate()
        for block in literals { block.deallocate() }
    }

    private func materialise(_ c: Constant, atomIds: [Int]) -> Value {
        switch c {
        case .nil: return .nil
        case .bool(let b): return .bool(b)
        case .int(let n):
            if n >= Value.smallIntMin && n <= Value.smallIntMax { return .smallInt(n) }
            return literal(.boxedInt, [UInt64(bitPattern: n)])
        case .float(let bits): return literal(.float, [bits])
        case .string(let s):
            let bytes = Array(s.utf8)
            let object = UnsafeMutablePointer<UInt64>.allocate(capacity: HeapObject.stringWords(byteCount: bytes.count))
            bytes.withUnsafeBytes { HeapObject.initString(object, bytes: $0) }
            literals.append(object)
            return .object(object)
        case .atom(let a): return .atom(atomIds[Int(a)])
        case .function(let f): return .function(Int(f))
        case .tuple(let elements):
            return literal(.tuple, elements.map { materialise($0, atomIds: atomIds).raw })
        }
    }

    private func literal(_ kind: HeapKind, _ payload: [UInt64]) -> Value {
        let object = UnsafeMutablePointer<UInt64>.allocate(capacity: 1 + payload.count)
        object[0] = HeapObject.header(kind, payloadWords: payload.count)
        for (i, w) in payload.enumerated() { object[1 + i] = w }
        literals.append(object)
        return .object(object)
    }

    /// The function containing absolute code index `pc`.
    func functionIndex(containing pc: Int) -> Int {
        var lo = 0, hi = module.functions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if functions[mid].entry <= pc { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// `name/arity` of function `index`.
    func functionName(_ index: Int) -> String {
        let f = module.functions[index]
        return "\(f.name)/\(f.arity)"
    }

    /// The source line of absolute code index `pc`.
    func line(at pc: Int) -> Int? {
        let f = functionIndex(containing: pc)
        return module.functions[f].line(at: pc - functions[f].entry)
    }
}
