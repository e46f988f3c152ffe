/// Static facts about one function of a loaded program, laid out for the interpreter.
struct FunctionInfo {
    /// Absolute index of its first code word.
    var entry: Int
    /// Number of arguments.
    var arity: Int
    /// Registers in its frame.
    var registers: Int
    /// Words of the register stack a call to it writes: its registers, and at least
    /// `FunctionInfo.smallFrame` (a small frame is filled with that many stores and no loop).
    var frameWords: Int

    /// Frames of at most this many registers are filled without a loop.
    static let smallFrame = 4

    init(entry: Int, arity: Int, registers: Int) {
        self.entry = entry
        self.arity = arity
        self.registers = registers
        frameWords = max(registers, FunctionInfo.smallFrame)
    }
}

/// A verified program linked for execution: the code of all its modules in one array with
/// absolute jump targets, one function table and one constant pool for the whole program, so
/// that a call into another module is the same instruction, at the same cost, as a local call.
/// Each module's function and constant indices are moved by the module's base when its code is
/// linked, and an imported function becomes the flat index of the function it names. Constants
/// are materialised as values (heap constants live in immortal literal storage that no collector
/// moves), atoms mapped to VM-wide ids, so an atom of one module is the same atom in another.
///
/// Immutable after `init` and shared by every worker, so it is `Sendable`; the interpreter reads
/// it through raw pointers without reference counting.
final class LoadedProgram: @unchecked Sendable {
    // Sendable: nothing changes after `init` (its raw buffers and literals are written only there).
    /// The modules it was built from (for names, line tables and disassembly), the entry first.
    let program: Program
    /// Linked code.
    let code: UnsafeMutablePointer<UInt64>
    /// Per-function facts, indexed by flat function index (module by module, in program order).
    let functions: UnsafeMutablePointer<FunctionInfo>
    /// How many functions the program has, all modules together.
    let functionCount: Int
    /// Constant values, indexed by flat constant index (module by module, in program order).
    let constants: UnsafeMutablePointer<UInt64>
    /// The IO operation named by each constant that an `io` instruction uses, as
    /// `IOOperationKind` raw values (`LoadedProgram.noIOOperation` elsewhere): resolved here, as
    /// host functions are, so running an `io` costs one load, not a name lookup.
    let ioOperations: UnsafeMutablePointer<UInt8>
    /// The string operation named by each constant that a `str` instruction uses, as
    /// `StringOperationKind` raw values (`LoadedProgram.noIOOperation` elsewhere), resolved
    /// like `ioOperations` (a table of its own: one atom may name an operation of each family).
    let stringOperations: UnsafeMutablePointer<UInt8>
    /// The `ioOperations` (and `stringOperations`) entry of a constant no instruction names.
    static let noIOOperation = UInt8.max
    /// Flat index of the entry module's `main`.
    let mainIndex: Int
    /// The flat index of each module's first function.
    let functionBases: [Int]
    /// The flat index of each module's first constant.
    let constantBases: [Int]
    /// The module of each flat function index.
    private let moduleOfFunction: [Int32]
    /// `module.name/arity` (`name/arity` in a main program) of each flat function index.
    private let names: [String]
    /// Immortal storage of heap constants.
    private var literals: [UnsafeMutablePointer<UInt64>] = []

    /// Verifies and links `module` as a program of its own, interning its atoms into `atoms`.
    convenience init(_ module: Module, atoms: AtomTable) throws(LoadError) {
        try self.init(Program([module]), atoms: atoms)
    }

    /// Verifies and links the modules of `program`, interning their atoms into `atoms`.
    init(_ program: Program, atoms: AtomTable) throws(LoadError) {
        try Verifier.verify(program)
        self.program = program
        let modules = program.modules
        var functionBases: [Int] = [], constantBases: [Int] = []
        var functionTotal = 0, constantTotal = 0, codeTotal = 0
        for module in modules {
            functionBases.append(functionTotal)
            constantBases.append(constantTotal)
            functionTotal += module.functions.count
            constantTotal += module.constants.count
            codeTotal += module.functions.reduce(0) { $0 + $1.code.count }
        }
        guard codeTotal <= Verifier.maxProgramWords else {
            throw LoadError("program", "\(codeTotal) code words in all modules; at most \(Verifier.maxProgramWords) are allowed (jump targets are 24-bit)")
        }
        self.functionBases = functionBases
        self.constantBases = constantBases
        functionCount = functionTotal
        // Each module's function index space (its functions, then its imports) as flat indices.
        var indexByName: [String: Int] = [:]
        for (m, module) in modules.enumerated() { if let name = module.name { indexByName[name] = m } }
        let slots: [[Int]] = modules.enumerated().map { m, module in
            Array(functionBases[m] ..< functionBases[m] + module.functions.count) + module.imports.map { wanted in
                // `Verifier.verify(program)` has checked that the module and function exist.
                let target = indexByName[wanted.module]!
                return functionBases[target] + modules[target].functionIndex(named: wanted.name)!
            }
        }
        mainIndex = program.entry.functionIndex(named: "main")!
        var moduleOfFunction: [Int32] = [], names: [String] = []
        moduleOfFunction.reserveCapacity(functionTotal)
        names.reserveCapacity(functionTotal)
        for (m, module) in modules.enumerated() {
            for i in module.functions.indices {
                moduleOfFunction.append(Int32(m))
                names.append(module.qualifiedName(i))
            }
        }
        self.moduleOfFunction = moduleOfFunction
        self.names = names
        code = .allocate(capacity: max(codeTotal, 1))
        functions = .allocate(capacity: max(functionTotal, 1))
        ioOperations = .allocate(capacity: max(constantTotal, 1))
        ioOperations.initialize(repeating: LoadedProgram.noIOOperation, count: max(constantTotal, 1))
        stringOperations = .allocate(capacity: max(constantTotal, 1))
        stringOperations.initialize(repeating: LoadedProgram.noIOOperation, count: max(constantTotal, 1))
        constants = .allocate(capacity: max(constantTotal, 1))
        var entry = 0
        for (m, module) in modules.enumerated() {
            for (i, f) in module.functions.enumerated() {
                functions[functionBases[m] + i] = FunctionInfo(entry: entry, arity: f.arity, registers: f.registerCount)
                for instruction in f.instructions {
                    let linked = try Self.link(instruction, entry: entry, constantBase: constantBases[m], slots: slots[m],
                                               place: { "\(module.sourceName): function \(module.qualifiedName(i)), word \(instruction.pc)" })
                    code[entry + instruction.pc] = linked.word
                    if let extra = linked.extra { code[entry + instruction.pc + 1] = extra }
                    if instruction.opcode == .addjlt || instruction.opcode == .addjle {
                        // A loop back-edge's target as the distance from its extension word: the
                        // taken branch, the loop's hottest path, is then one add to the instruction
                        // pointer instead of a load of the code base and an add.
                        code[entry + instruction.pc + 1] = UInt64(bitPattern: Int64(instruction.values[3] - (instruction.pc + 1)))
                    }
                    // An operation's name (its constant is an index of this module's pool).
                    let constant = instruction.values[1]
                    switch NamedOperations.check(instruction.opcode, constant: constant, of: module.constants, atoms: module.atoms, count: instruction.values[3]) {
                    case .resolved(let kind)?:
                        (instruction.opcode == .io ? ioOperations : stringOperations)[constantBases[m] + constant] = kind
                    case .unknownName(let why)?, .wrongCount(let why)?:
                        // The verifier has checked every such instruction: a broken invariant, reported all the same.
                        throw LoadError("function \(f.name)/\(f.arity), word \(instruction.pc) (\(instruction.opcode.mnemonic))", why)
                    case nil:
                        break
                    }
                }
                entry += f.code.count
            }
            let atomIds = module.atoms.map { atoms.intern($0) }
            for (k, c) in module.constants.enumerated() {
                constants[constantBases[m] + k] = materialise(c, atomIds: atomIds, slots: slots[m]).raw
            }
        }
    }

    /// The words of `instruction` in the linked program: jump targets absolute (moved by the
    /// function's `entry`), constant indices moved by the module's base, function indices flat.
    /// A module's constant that lands past what its instruction's field holds is an error.
    private static func link(_ instruction: DecodedInstruction, entry: Int, constantBase: Int, slots: [Int],
                             place: () -> String) throws(LoadError) -> Instruction {
        var values = instruction.values
        for (k, spec) in instruction.operands.enumerated() {
            switch spec.kind {
            // The verifier made sure every target, hence every sum, fits its field.
            case .label: values[k] += entry
            case .function: values[k] = slots[values[k]]
            case .constant:
                values[k] += constantBase
                let bits = spec.field.layout.bits
                guard values[k] < 1 << bits else {
                    throw LoadError(place(), "constant \(instruction.values[k]) of the module is constant \(values[k]) of the linked program, "
                                    + "past the \(bits)-bit field of \(instruction.opcode.mnemonic): put this module earlier or use fewer constants before it")
                }
            case .register, .immediate, .count: break
            }
        }
        return instruction.opcode.operands.encode(instruction.opcode, values)
    }

    deinit {
        code.deallocate()
        functions.deallocate()
        constants.deallocate()
        ioOperations.deallocate()
        stringOperations.deallocate()
        for block in literals { block.deallocate() }
    }

    private func materialise(_ c: Constant, atomIds: [Int], slots: [Int]) -> Value {
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
        case .binary(let bytes):
            let object = UnsafeMutablePointer<UInt64>.allocate(capacity: HeapObject.stringWords(byteCount: bytes.count))
            bytes.withUnsafeBytes { HeapObject.initString(object, bytes: $0, kind: .binary) }
            literals.append(object)
            return .object(object)
        case .atom(let a): return .atom(atomIds[Int(a)])
        case .function(let f): return .function(slots[Int(f)])
        case .tuple(let elements):
            return literal(.tuple, elements.map { materialise($0, atomIds: atomIds, slots: slots).raw })
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
        var lo = 0, hi = functionCount - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if functions[mid].entry <= pc { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// `module.function/arity` of function `index` (`function/arity` in the main program).
    func functionName(_ index: Int) -> String { names[index] }

    /// The module that defines function `index`, and the function's index there.
    func definition(of index: Int) -> (module: Module, local: Int) {
        let m = Int(moduleOfFunction[index])
        return (program.modules[m], index - functionBases[m])
    }

    /// The source line of absolute code index `pc`.
    func line(at pc: Int) -> Int? {
        let f = functionIndex(containing: pc)
        let (module, local) = definition(of: f)
        return module.functions[local].line(at: pc - functions[f].entry)
    }

    /// The source file of the module that defines function `index`.
    func sourceName(ofFunction index: Int) -> String { definition(of: index).module.sourceName }

    /// The constant at flat index `index`, with the module whose pool holds it (for its atoms).
    func constant(_ index: Int) -> (module: Module, constant: Constant) {
        var m = constantBases.count - 1
        while constantBases[m] > index || program.modules[m].constants.count == 0 { m -= 1 }
        let module = program.modules[m]
        return (module, module.constants[index - constantBases[m]])
    }

    /// The flat index of the function a host names: `name` in the entry module, or
    /// `module.name` (exported or not: the host is trusted).
    func functionIndex(named name: String) -> Int? {
        if let local = program.entry.functionIndex(named: name) { return local }
        guard let (module, function) = ModuleName.split(name), let m = program.moduleIndex(named: module),
              let local = program.modules[m].functionIndex(named: function) else { return nil }
        return functionBases[m] + local
    }
}
