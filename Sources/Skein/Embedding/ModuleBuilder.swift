/// Builds a module in Swift, without assembly text: for compilers that target Skein.
///
/// Functions are declared first (so calls may refer to functions defined later), then their
/// code is emitted instruction by instruction with typed operands; constants and atoms are
/// pooled, labels are resolved when the function ends, and the register count is what the code
/// uses. `build()` runs the same verifier as every loaded module, so what it returns can run.
///
/// ```swift
/// var builder = ModuleBuilder(name: "generated")
/// let fib = builder.declare("fib", arity: 1)
/// let main = builder.declare("main", arity: 0)
/// try builder.define(fib) { f in
///     let base = f.makeLabel()
///     f.emit(.jlti, .register(0), .immediate(2), .label(base))     // fib(n) = n for n < 2
///     f.emit(.subi, .register(1), .register(0), .immediate(1))
///     f.emit(.call, .register(1), .function(fib), .register(1))
///     f.emit(.subi, .register(2), .register(0), .immediate(2))
///     f.emit(.call, .register(2), .function(fib), .register(2))
///     f.emit(.add, .register(0), .register(1), .register(2))
///     f.place(base)
///     f.emit(.ret, .register(0))
/// }
/// try builder.define(main) { f in
///     f.emit(.loadi, .register(0), .immediate(20))
///     f.emit(.call, .register(0), .function(fib), .register(0))
///     f.emit(.ret, .register(0))
/// }
/// let vm = try VM(module: try builder.build())
/// ```
/// The opcodes and the order of their operands are those of `docs/instruction-set.md`
/// (`Opcode.operands` lists them); the builder checks each operand's kind and range as it is
/// emitted.
public struct ModuleBuilder {
    /// A function declared in the builder, or a function of another module it names.
    public struct Function: Hashable, Sendable {
        /// Its index in the module's function table (for a function of another module, its
        /// number among those, `external`).
        public let index: Int
        /// Whether it is a function of another module (`declareExternal`).
        public let external: Bool

        fileprivate init(index: Int, external: Bool = false) {
            self.index = index
            self.external = external
        }
    }

    /// A jump target inside one function's code.
    public struct Label: Hashable, Sendable {
        fileprivate let id: Int
    }

    /// One operand of an emitted instruction.
    public enum Operand: Sendable {
        /// A register of the function, `r0` up.
        case register(Int)
        /// A small signed integer held in the instruction itself.
        case immediate(Int)
        /// A constant from the pool (pooled by value: the same constant is stored once).
        case constant(Term)
        /// A function of this module, or of another (`declareExternal`).
        case function(Function)
        /// A count of registers or arguments.
        case count(Int)
        /// A place in this function's code.
        case label(Label)
    }

    /// Why an instruction or a function cannot be built.
    public struct BuildError: Error, Sendable, CustomStringConvertible {
        /// The function and instruction where it happened.
        public var location: String
        /// What is wrong.
        public var message: String
        public var description: String { "\(location): \(message)" }
    }

    /// The code of one function while it is being emitted.
    public struct FunctionBody {
        fileprivate var code: [UInt64] = []
        fileprivate var highestRegister = -1
        fileprivate var labelTargets: [Int?] = []
        /// Label operands to patch: code word, operand index, label, the other operand values, opcode.
        fileprivate var fixups: [(pc: Int, operand: Int, label: Int, values: [Int], opcode: Opcode)] = []
        /// Code words whose function operand names a function of another module, by its number
        /// among those: its index is known only when the module is built (after every function).
        fileprivate var externalUses: [Int] = []
        fileprivate var errors: [String] = []
        /// The constants this body uses, numbered in order of first use (mapped to pool
        /// indices when the function is defined).
        fileprivate var constants: [Term] = []
        fileprivate var constantNumbers: [Term: Int] = [:]

        /// The body's number for constant `term`, or nil if it cannot be a constant.
        fileprivate mutating func number(_ term: Term) -> Int? {
            if let known = constantNumbers[term] { return known }
            guard ModuleBuilder.isConstant(term) else { return nil }
            constants.append(term)
            constantNumbers[term] = constants.count - 1
            return constants.count - 1
        }

        /// Source lines by code word, for stack traces.
        fileprivate var lines: [LineEntry] = []

        /// Marks the instructions emitted from now on as coming from source line `line` (what
        /// stack traces and error reports name).
        public mutating func line(_ line: Int) {
            if lines.last?.pc == UInt32(code.count) { lines.removeLast() }
            lines.append(LineEntry(pc: UInt32(code.count), line: UInt32(clamping: line)))
        }

        /// A new label, placed later with `place`.
        public mutating func makeLabel() -> Label {
            labelTargets.append(nil)
            return Label(id: labelTargets.count - 1)
        }

        /// Makes `label` name the next instruction emitted.
        public mutating func place(_ label: Label) {
            labelTargets[label.id] = code.count
        }

        /// Emits `opcode` with `operands` in the order `opcode.operands` gives.
        public mutating func emit(_ opcode: Opcode, _ operands: Operand...) {
            let at = "instruction \(code.count) (\(opcode))"
            let specs = Array(opcode.operands)
            guard specs.count == operands.count else {
                errors.append("\(at): takes \(specs.count) operands, not \(operands.count)")
                return
            }
            var values: [Int] = []
            var pendingLabels: [(operand: Int, label: Int)] = []
            for (i, (spec, operand)) in zip(specs, operands).enumerated() {
                switch (spec.kind, operand) {
                case (.register, .register(let r)) where r >= 0:
                    highestRegister = max(highestRegister, r)
                    values.append(r)
                case (.immediate, .immediate(let n)), (.count, .count(let n)):
                    values.append(n)
                case (.constant, .constant(let term)):
                    guard let index = number(term) else { errors.append("\(at): \(term) cannot be a constant (pids and references cannot)"); return }
                    values.append(index)
                case (.function, .function(let f)):
                    if f.external { externalUses.append(code.count) }
                    values.append(f.index)
                case (.label, .label(let label)):
                    pendingLabels.append((i, label.id))
                    values.append(0)
                default:
                    errors.append("\(at): operand \(i + 1) must be \(spec.kind), not \(operand)")
                    return
                }
            }
            for (i, (spec, value)) in zip(specs, values).enumerated() where spec.kind != .label {
                let bits = Int(spec.field.layout.bits)
                let fits = spec.kind == .immediate ? (value >= -(1 << (bits - 1)) && value < 1 << (bits - 1)) : (value >= 0 && value < 1 << bits)
                guard fits else { errors.append("\(at): operand \(i + 1) (\(value)) does not fit its \(bits)-bit field"); return }
            }
            let pc = code.count
            let instruction = Instruction.encode(opcode, values)
            code.append(instruction.word)
            if let extra = instruction.extra { code.append(extra) }
            for pending in pendingLabels {
                fixups.append((pc, pending.operand, pending.label, values, opcode))
            }
        }

        /// The code with every label resolved, or the problems found.
        fileprivate func finished(_ name: String) throws(BuildError) -> [UInt64] {
            if let first = errors.first { throw BuildError(location: name, message: first) }
            var words = code
            for fixup in fixups {
                guard let target = labelTargets[fixup.label] else {
                    throw BuildError(location: "\(name), instruction \(fixup.pc)", message: "a label is used but never placed")
                }
                var values = fixup.values
                values[fixup.operand] = target
                let linked = Instruction.encode(fixup.opcode, values)
                words[fixup.pc] = linked.word
                if let extra = linked.extra { words[fixup.pc + 1] = extra }
            }
            return words
        }
    }

    private var sourceName: String
    private var moduleName: String?
    private var exports: Set<Int> = []
    private var imports: [ExternalFunction] = []
    /// Per function, the code words that name an import (`FunctionBody.externalUses`).
    private var externalUses: [Int: [Int]] = [:]
    private var atoms: [String] = []
    private var atomIndex: [String: UInt32] = [:]
    private var constants: [Constant] = []
    private var constantIndex: [Constant: Int] = [:]
    private var functions: [FunctionDefinition] = []
    private var defined: Set<Int> = []

    /// A builder for a module whose error reports name `name` as its source; `module` names a
    /// library module that others call (`nil`: a main program, which must define `main`).
    public init(name: String, module: String? = nil) {
        sourceName = name
        moduleName = module
    }

    /// A function of another module (a standard library module such as `lists`, or one loaded
    /// beside this one) that code may call, spawn or refer to with `.function`: resolved and
    /// checked (exported, with this arity) when the module is linked.
    public mutating func declareExternal(module: String, name: String, arity: Int) -> Function {
        let external = ExternalFunction(module: module, name: name, arity: arity)
        if let k = imports.firstIndex(of: external) { return Function(index: k, external: true) }
        imports.append(external)
        return Function(index: imports.count - 1, external: true)
    }

    /// Lets other modules call `function` (in a module built with a `module` name).
    public mutating func export(_ function: Function) {
        if !function.external { exports.insert(function.index) }
    }

    /// Declares a function; its code comes with `define`.
    public mutating func declare(_ name: String, arity: Int) -> Function {
        functions.append(FunctionDefinition(name: name, arity: arity, registerCount: max(arity, 1), code: [], lines: []))
        return Function(index: functions.count - 1)
    }

    /// Emits the code of `function`.
    public mutating func define(_ function: Function, _ body: (inout FunctionBody) throws -> Void) throws {
        guard !function.external else {
            throw BuildError(location: "\(imports[function.index])", message: "is a function of another module; it is defined there")
        }
        let name = "function \(functions[function.index].name)/\(functions[function.index].arity)"
        guard !defined.contains(function.index) else { throw BuildError(location: name, message: "is defined twice") }
        var code = FunctionBody()
        try body(&code)
        let words = try code.finished(name)
        let indices = code.constants.map { addConstant($0) }
        functions[function.index].code = words
        functions[function.index].lines = code.lines
        // The body numbered its constants in order of first use; the pool may hold them at
        // other indices (another function pooled some first).
        if !indices.isEmpty { functions[function.index].code = remapConstants(functions[function.index], indices) }
        externalUses[function.index] = code.externalUses
        functions[function.index].registerCount = max(code.highestRegister + 1, functions[function.index].arity, 1)
        defined.insert(function.index)
    }

    /// The module, verified as any loaded module is.
    public func build() throws -> Module {
        for (i, f) in functions.enumerated() where !defined.contains(i) {
            throw BuildError(location: "function \(f.name)/\(f.arity)", message: "is declared but never defined")
        }
        var functions = functions
        for (f, uses) in externalUses where !uses.isEmpty {
            // An import's index follows every function of the module.
            functions[f].code = rewrite(functions[f], at: Set(uses), kind: .function) { $0 + functions.count }
        }
        let module = Module(sourceName: sourceName, name: moduleName, atoms: atoms, constants: constants, functions: functions,
                            exports: exports.sorted(), imports: imports)
        try Verifier.verify(module)
        return module
    }

    /// Whether `term` can live in the constant pool.
    fileprivate static func isConstant(_ term: Term) -> Bool {
        switch term {
        case .pid, .ref, .array, .map: false
        case .tuple(let items): items.allSatisfy(isConstant)
        default: true
        }
    }

    /// Adds `term` to the pool (once) and returns its index.
    private mutating func addConstant(_ term: Term) -> Int {
        let constant = makeConstant(term)
        if let index = constantIndex[constant] { return index }
        constants.append(constant)
        constantIndex[constant] = constants.count - 1
        return constants.count - 1
    }

    /// The pool form of a constant term.
    private mutating func makeConstant(_ term: Term) -> Constant {
        switch term {
        case .nil: return .nil
        case .bool(let b): return .bool(b)
        case .int(let n): return .int(n)
        case .float(let d): return .float(bitPattern: d.bitPattern)
        case .string(let s): return .string(s)
        case .bytes(let b): return .binary(b)
        case .atom(let name):
            if let index = atomIndex[name] { return .atom(index) }
            atoms.append(name)
            atomIndex[name] = UInt32(atoms.count - 1)
            return .atom(UInt32(atoms.count - 1))
        case .tuple(let items): return .tuple(items.map { makeConstant($0) })
        case .array, .pid, .ref, .map: return .nil  // excluded by isConstant
        }
    }

    /// The code of `function` with the body's constant numbers (in order of first use)
    /// rewritten to pool indices.
    private func remapConstants(_ function: FunctionDefinition, _ indices: [Int]) -> [UInt64] {
        rewrite(function, at: nil, kind: .constant) { indices[$0] }
    }

    /// The code of `function` with each operand of `kind` (in the instructions at the code
    /// words `at`, or in all) replaced by `change` of its value.
    private func rewrite(_ function: FunctionDefinition, at: Set<Int>?, kind: OperandKind, _ change: (Int) -> Int) -> [UInt64] {
        var words = function.code
        for instruction in function.instructions where at?.contains(instruction.pc) ?? true && instruction.operands.contains(where: { $0.kind == kind }) {
            var values = instruction.values
            for (k, spec) in instruction.operands.enumerated() where spec.kind == kind { values[k] = change(values[k]) }
            let encoded = instruction.opcode.operands.encode(instruction.opcode, values)
            words[instruction.pc] = encoded.word
            if let extra = encoded.extra { words[instruction.pc + 1] = extra }
        }
        return words
    }
}
