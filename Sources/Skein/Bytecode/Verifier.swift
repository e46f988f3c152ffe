/// Checks a decoded module before anything runs, so that the interpreter can trust it without
/// checks of its own: every operand in range, every jump on an instruction boundary of its
/// function, every static call with the callee's arity, no path off the end of a function.
///
/// The interpreter relies on each of these facts; a module that passed `verify` cannot make it
/// read outside a frame, the constant pool or the code.
public enum Verifier {
    /// Largest linked program, in code words (jump targets are 24-bit).
    public static let maxProgramWords = 1 << 24
    /// Most functions in a module (function operands are 16-bit).
    public static let maxFunctions = 1 << 16

    /// Throws the first problem found, naming the function and instruction.
    public static func verify(_ module: Module) throws(LoadError) {
        guard module.functions.count <= maxFunctions else {
            throw LoadError("module", "\(module.functions.count) functions; at most \(maxFunctions) are allowed")
        }
        var names = Set<String>()
        for f in module.functions where !names.insert(f.name).inserted {
            throw LoadError("function \(f.name)", "defined twice")
        }
        guard let main = module.functionIndex(named: "main") else {
            throw LoadError("module", "no function main/0 to start from")
        }
        guard module.functions[main].arity <= 1 else {
            throw LoadError("function main", "main takes no arguments or one (the program's arguments), not \(module.functions[main].arity)")
        }
        for (i, c) in module.constants.enumerated() { try verifyConstant(c, index: i, depth: 0, module: module) }
        var total = 0
        for f in module.functions {
            try verifyFunction(f, module: module)
            total += f.code.count
        }
        guard total <= maxProgramWords else {
            throw LoadError("module", "\(total) code words; at most \(maxProgramWords) are allowed")
        }
    }

    /// Checks constant `index` (or a tuple element of it `depth` levels down): indices in range and
    /// nesting within the format's limit, which a module built in memory may not respect.
    private static func verifyConstant(_ c: Constant, index: Int, depth: Int, module: Module) throws(LoadError) {
        switch c {
        case .atom(let a) where Int(a) >= module.atoms.count:
            throw LoadError("constant \(index)", "atom index \(a) out of range (the module has \(module.atoms.count) atoms)")
        case .function(let f) where Int(f) >= module.functions.count:
            throw LoadError("constant \(index)", "function index \(f) out of range (the module has \(module.functions.count) functions)")
        case .tuple(let elements):
            guard depth < BinaryFormat.maxConstantDepth else {
                throw LoadError("constant \(index)", "nests tuples deeper than \(BinaryFormat.maxConstantDepth) levels")
            }
            for e in elements { try verifyConstant(e, index: index, depth: depth + 1, module: module) }
        default:
            break
        }
    }

    private static func verifyFunction(_ f: FunctionDefinition, module: Module) throws(LoadError) {
        let name = "\(f.name)/\(f.arity)"
        guard f.registerCount <= BinaryFormat.maxRegisters else {
            throw LoadError("function \(name)", "\(f.registerCount) registers; at most \(BinaryFormat.maxRegisters) are allowed")
        }
        guard f.arity <= f.registerCount else {
            throw LoadError("function \(name)", "arity \(f.arity) exceeds its \(f.registerCount) registers")
        }
        guard !f.code.isEmpty else { throw LoadError("function \(name)", "has no code") }

        // Pass 1: instruction boundaries.
        var isStart = [Bool](repeating: false, count: f.code.count)
        var lastStart = 0
        var last = Opcode.nop
        var decoder = InstructionDecoder(f.code)
        do {
            while let instruction = try decoder.next() {
                isStart[instruction.pc] = true
                lastStart = instruction.pc
                last = instruction.opcode
            }
        } catch {
            switch error {
            case .unknownOpcode(let pc, let byte):
                throw LoadError("function \(name), word \(pc)", "unknown opcode \(byte)")
            case .cutOff(let pc, let opcode):
                throw LoadError("function \(name), word \(pc)", "\(opcode.mnemonic) is cut off by the end of the function")
            }
        }

        // Pass 2: operands (the code decodes: pass 1 went through all of it).
        for decoded in f.instructions {
            let (pc, opcode, instruction, values) = (decoded.pc, decoded.opcode, decoded.instruction, decoded.values)
            // Built only for an error: formatting it for every instruction was most of the
            // verifier's time on large modules.
            func where_() -> String { "function \(name), word \(pc) (\(opcode.mnemonic))" }
            guard instruction.word & opcode.operands.unusedBits == 0 else {
                throw LoadError(where_(), "unused operand bits are set")
            }
            if let extra = instruction.extra, extra >> 32 != 0 {
                throw LoadError(where_(), "unused bits of the extension word are set")
            }
            for (spec, value) in decoded.operandsAndValues {
                switch spec.kind {
                case .register:
                    guard value < f.registerCount else {
                        throw LoadError(where_(), "register r\(value) out of range (the function has \(f.registerCount) registers)")
                    }
                case .constant:
                    guard value < module.constants.count else {
                        throw LoadError(where_(), "constant index \(value) out of range (the pool has \(module.constants.count))")
                    }
                case .function:
                    guard value < module.functions.count else {
                        throw LoadError(where_(), "function index \(value) out of range (the module has \(module.functions.count))")
                    }
                case .label:
                    guard value < f.code.count, isStart[value] else {
                        throw LoadError(where_(), "jump target \(value) is not the start of an instruction in this function")
                    }
                case .immediate, .count:
                    break
                }
            }
            if opcode == .io {
                let operation: String? = if case .atom(let a) = module.constants[values[1]] { module.atoms[Int(a)] } else { nil }
                guard let kind = operation.flatMap(IOOperationKind.init(name:)) else {
                    throw LoadError(where_(), IOOperationKind.unknown(operation))
                }
                guard kind.arity.contains(values[3]) else { throw LoadError(where_(), kind.wrongCount(values[3])) }
            }
            if let run = opcode.registerRun {
                let start = values[run.start]
                let count: Int
                if let countOperand = run.count {
                    count = values[countOperand]
                } else {
                    let callee = module.functions[values[opcode.operands.firstIndex { $0.kind == .function }!]]
                    count = callee.arity
                }
                guard start + count <= f.registerCount || count == 0 else {
                    throw LoadError(where_(), "registers r\(start)…r\(start + count - 1) run past the function's \(f.registerCount) registers")
                }
            }
        }

        // No path falls off the end: only the last instruction can continue past the end.
        guard last.isTerminator else {
            throw LoadError("function \(name), word \(lastStart) (\(last.mnemonic))",
                            "execution can fall off the end of the function; end it with ret, tailcall, jmp or raise")
        }

        var previous: UInt32 = 0
        for entry in f.lines {
            guard Int(entry.pc) < f.code.count, entry.pc >= previous else {
                throw LoadError("function \(name)", "line table entry for word \(entry.pc) is out of order or out of range")
            }
            previous = entry.pc
        }
    }
}
