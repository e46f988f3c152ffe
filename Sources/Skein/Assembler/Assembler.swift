/// Turns Skein assembly text into a `Module`.
///
/// Two passes: the first finds every function's name and arity and every named constant, so
/// code may refer to functions defined later; the second encodes instructions, pooling
/// constants and atoms in order of first use (which is what makes `disasm` → `asm` reproduce
/// the same bytes). Errors carry file, line and column, and the assembler keeps going after an
/// error to report several at once.
public struct Assembler {
    /// A literal as written, before atoms and functions are turned into indices.
    indirect enum Literal: Hashable {
        case `nil`, bool(Bool), int(Int64), float(Double), string(String), atom(String), function(String)
        case tuple([Literal])
    }

    /// An operand as written.
    enum Operand {
        case register(Int)
        case literal(Literal)
        case name(String)
    }

    private let file: String
    private var diagnostics: [AssemblyDiagnostic] = []
    private var functionIndex: [String: (index: Int, arity: Int)] = [:]
    private var constantsByName: [String: Literal] = [:]
    private var atoms: [String] = []
    private var atomIndex: [String: Int] = [:]
    private var constants: [Constant] = []
    private var constantIndex: [Constant: Int] = [:]
    private var sourceName: String

    /// Assembles `source`, naming `file` in diagnostics.
    public static func assemble(_ source: String, file: String) throws(AssemblyError) -> Module {
        var assembler = Assembler(file: file)
        return try assembler.run(source)
    }

    private init(file: String) {
        self.file = file
        self.sourceName = file
    }

    // MARK: Driver

    private typealias Line = (number: Int, tokens: [Token])

    private mutating func run(_ source: String) throws(AssemblyError) -> Module {
        var lines: [Line] = []
        for (n, text) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var lexer = Lexer(line: text)
            do {
                let tokens = try lexer.tokens()
                if !tokens.isEmpty { lines.append((n + 1, tokens)) }
            } catch {
                report(n + 1, error.column, error.message)
            }
        }
        collectDeclarations(lines)
        var functions: [FunctionDefinition] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            switch line.tokens[0].kind {
            case .identifier("func"):
                let (function, next) = assembleFunction(lines, from: i)
                if let function { functions.append(function) }
                i = next
                continue
            case .identifier("const"):
                break  // handled in collectDeclarations
            case .directive("source"):
                if line.tokens.count == 2, case .string(let s) = line.tokens[1].kind { sourceName = s } else {
                    report(line.number, line.tokens[0].column, ".source expects one string")
                }
            default:
                report(line.number, line.tokens[0].column, "expected 'func', 'const' or '.source' at the top level")
            }
            i += 1
        }
        if diagnostics.isEmpty, functionIndex["main"] == nil {
            report(1, 1, "no function main/0: the program has nowhere to start")
        }
        guard diagnostics.isEmpty else { throw AssemblyError(diagnostics: diagnostics) }
        return Module(sourceName: sourceName, atoms: atoms, constants: constants, functions: functions)
    }

    private mutating func report(_ line: Int, _ column: Int, _ message: String) {
        if diagnostics.count < 50 { diagnostics.append(AssemblyDiagnostic(file: file, line: line, column: column, message: message)) }
    }

    /// Pass 1: function signatures and named constants.
    private mutating func collectDeclarations(_ lines: [Line]) {
        var count = 0
        for line in lines {
            let t = line.tokens
            if case .identifier("func") = t[0].kind {
                guard let (name, arity) = signature(t) else {
                    report(line.number, t[0].column, "expected 'func NAME/ARITY', e.g. 'func fib/1'")
                    continue
                }
                if functionIndex[name] != nil {
                    report(line.number, t[1].column, "function '\(name)' is defined twice")
                } else {
                    functionIndex[name] = (count, arity)
                    count += 1
                }
            } else if case .identifier("const") = t[0].kind {
                guard t.count >= 4, case .identifier(let name) = t[1].kind, t[2].kind == .equals else {
                    report(line.number, t[0].column, "expected 'const NAME = literal'")
                    continue
                }
                var p = 3
                if let literal = parseLiteral(t, &p, line: line.number), p == t.count {
                    if constantsByName[name] != nil { report(line.number, t[1].column, "constant '\(name)' is defined twice") }
                    constantsByName[name] = literal
                } else if p != t.count {
                    report(line.number, t[min(p, t.count - 1)].column, "unexpected text after the constant's value")
                }
            }
        }
    }

    private func signature(_ t: [Token]) -> (String, Int)? {
        guard t.count >= 4, case .identifier(let name) = t[1].kind, t[2].kind == .slash,
              case .integer(let arity) = t[3].kind, arity >= 0, arity <= 255 else { return nil }
        return (name, Int(arity))
    }

    // MARK: Functions

    /// Pass 2 for one function: from its `func` line to its `end`. Returns the line index after it.
    private mutating func assembleFunction(_ lines: [Line], from start: Int) -> (FunctionDefinition?, Int) {
        let header = lines[start]
        guard let (name, arity) = signature(header.tokens) else { return (nil, skipToEnd(lines, from: start)) }
        var declaredRegisters: Int?
        var rest = Array(header.tokens.dropFirst(4))
        if !rest.isEmpty {
            if rest.count == 3, case .identifier("regs") = rest[0].kind, rest[1].kind == .equals,
               case .integer(let n) = rest[2].kind, n >= 0, n <= 0x10000 {
                declaredRegisters = Int(n)
            } else {
                report(header.number, rest[0].column, "unexpected text after the signature (only 'regs=N' may follow)")
            }
            rest = []
        }

        var code: [UInt64] = []
        var lineTable: [LineEntry] = []
        var labels: [String: Int] = [:]
        var fixups: [(word: Int, field: OperandField, label: String, line: Int, column: Int)] = []
        var maxRegister = arity - 1
        var lineOverride: Int?
        var i = start + 1
        var sawEnd = false
        while i < lines.count {
            let line = lines[i]
            var t = line.tokens
            i += 1
            if case .identifier("end") = t[0].kind, t.count == 1 { sawEnd = true; break }
            if case .identifier("func") = t[0].kind {
                report(line.number, t[0].column, "'func' inside function \(name); is an 'end' missing?")
                i -= 1
                break
            }
            if case .directive("line") = t[0].kind {
                if t.count == 2, case .integer(let n) = t[1].kind, n > 0, n <= Int64(UInt32.max) { lineOverride = Int(n) } else {
                    report(line.number, t[0].column, ".line expects a positive line number")
                }
                continue
            }
            while case .label(let label) = t.first?.kind {
                if labels[label] != nil { report(line.number, t[0].column, "label '\(label)' is defined twice in \(name)") }
                labels[label] = code.count
                t.removeFirst()
            }
            guard let mnemonicToken = t.first else { continue }
            guard case .identifier(let mnemonic) = mnemonicToken.kind else {
                report(line.number, mnemonicToken.column, "expected an instruction")
                continue
            }
            guard let operands = parseOperands(Array(t.dropFirst()), line: line.number) else { continue }
            guard let (opcode, values, labelUses) = select(mnemonic, operands.map(\.operand), arity: arity,
                                                           line: line.number, column: mnemonicToken.column, columns: operands.map(\.column))
            else { continue }
            let sourceLine = lineOverride ?? line.number
            if lineTable.last?.line != UInt32(sourceLine) {
                lineTable.append(LineEntry(pc: UInt32(code.count), line: UInt32(sourceLine)))
            }
            for (spec, value) in zip(opcode.operands, values) where spec.kind == .register {
                maxRegister = max(maxRegister, value)
            }
            if let run = opcode.registerRun {
                let count = run.count.map { values[$0] } ?? calleeArity(opcode, values)
                if count > 0 { maxRegister = max(maxRegister, values[run.start] + count - 1) }
            }
            let wordIndex = code.count
            let encoded = Instruction.encode(opcode, values)
            code.append(encoded.word)
            if let extra = encoded.extra { code.append(extra) }
            for use in labelUses {
                fixups.append((wordIndex, use.field, use.label, line.number, use.column))
            }
        }
        if !sawEnd { report(header.number, header.tokens[0].column, "function \(name) has no 'end'") }

        for fixup in fixups {
            guard let target = labels[fixup.label] else {
                report(fixup.line, fixup.column, "unknown label '\(fixup.label)' in function \(name)")
                continue
            }
            if fixup.field == .x {
                code[fixup.word + 1] = UInt64(target)
            } else {
                code[fixup.word] |= UInt64(target) << fixup.field.layout.shift
            }
        }
        if let last = lastInstruction(code), !last.isTerminator {
            report(header.number, header.tokens[0].column,
                   "function \(name) can fall off its end: finish it with ret, tailcall, jmp or raise")
        } else if code.isEmpty {
            report(header.number, header.tokens[0].column, "function \(name) has no instructions")
        }
        var registers = maxRegister + 1
        if let declared = declaredRegisters {
            if declared < registers {
                report(header.number, header.tokens[0].column, "regs=\(declared) but the function uses \(registers) registers")
            }
            registers = max(registers, declared)
        }
        if registers > 0x10000 { report(header.number, header.tokens[0].column, "function \(name) uses more than 65536 registers") }
        return (FunctionDefinition(name: name, arity: arity, registerCount: registers, code: code, lines: lineTable), i)
    }

    private func calleeArity(_ opcode: Opcode, _ values: [Int]) -> Int {
        guard let f = opcode.operands.firstIndex(where: { $0.kind == .function }) else { return 0 }
        return functionIndex.values.first { $0.index == values[f] }?.arity ?? 0
    }

    private func lastInstruction(_ code: [UInt64]) -> Opcode? {
        var pc = 0
        var last: Opcode?
        while pc < code.count, let op = Opcode(rawValue: UInt8(truncatingIfNeeded: code[pc])) {
            last = op
            pc += op.wordCount
        }
        return last
    }

    private func skipToEnd(_ lines: [Line], from start: Int) -> Int {
        var i = start + 1
        while i < lines.count {
            if case .identifier("end") = lines[i].tokens[0].kind { return i + 1 }
            if case .identifier("func") = lines[i].tokens[0].kind { return i }
            i += 1
        }
        return i
    }

    // MARK: Operands

    private mutating func parseOperands(_ t: [Token], line: Int) -> [(operand: Operand, column: Int)]? {
        var out: [(Operand, Int)] = []
        var p = 0
        while p < t.count {
            let column = t[p].column
            switch t[p].kind {
            case .register(let r):
                out.append((.register(r), column))
                p += 1
            case .identifier(let name) where !["nil", "true", "false"].contains(name):
                out.append((.name(name), column))
                p += 1
            default:
                guard let literal = parseLiteral(t, &p, line: line) else { return nil }
                out.append((.literal(literal), column))
            }
            if p < t.count {
                guard t[p].kind == .comma else {
                    report(line, t[p].column, "expected ',' between operands")
                    return nil
                }
                p += 1
                if p == t.count { report(line, t[p - 1].column, "operand missing after ','"); return nil }
            }
        }
        return out
    }

    /// Parses one literal at `t[p]`, advancing `p`.
    private mutating func parseLiteral(_ t: [Token], _ p: inout Int, line: Int) -> Literal? {
        guard p < t.count else { report(line, t.last?.column ?? 1, "expected a value"); return nil }
        let token = t[p]
        p += 1
        switch token.kind {
        case .integer(let n): return .int(n)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .atom(let a): return .atom(a)
        case .functionRef(let f): return .function(f)
        case .identifier("nil"): return .nil
        case .identifier("true"): return .bool(true)
        case .identifier("false"): return .bool(false)
        case .identifier(let name):
            if let value = constantsByName[name] { return value }
            report(line, token.column, "unknown constant '\(name)'")
            return nil
        case .leftBrace:
            var elements: [Literal] = []
            if p < t.count, t[p].kind == .rightBrace { p += 1; return .tuple([]) }
            while true {
                guard let e = parseLiteral(t, &p, line: line) else { return nil }
                elements.append(e)
                guard p < t.count else { report(line, token.column, "unclosed '{'"); return nil }
                if t[p].kind == .rightBrace { p += 1; return .tuple(elements) }
                guard t[p].kind == .comma else { report(line, t[p].column, "expected ',' or '}' in a tuple"); return nil }
                p += 1
            }
        default:
            report(line, token.column, "expected a value (number, string, :atom, nil, true, false, @function or {tuple})")
            return nil
        }
    }

    /// Picks the instruction form that fits the operands and encodes their values. Label
    /// operands come back as fixups to resolve at the end of the function.
    private mutating func select(_ mnemonic: String, _ operands: [Operand], arity: Int, line: Int, column: Int, columns: [Int])
        -> (Opcode, [Int], [(field: OperandField, label: String, column: Int)])?
    {
        var candidates = Opcode.allCases.filter { $0.mnemonic == mnemonic || $0.family == mnemonic }
        guard !candidates.isEmpty else {
            report(line, column, "unknown instruction '\(mnemonic)'")
            return nil
        }
        // Prefer compact immediate forms; the general form is the fallback.
        candidates.sort { a, b in
            a.operands.contains { $0.kind == .immediate } && !b.operands.contains { $0.kind == .immediate }
        }
        var operands = operands
        // `call rD, F` / `spawn rD, F` / `tailcall F` for a function without arguments.
        if [.call, .spawn, .tailcall].contains(candidates[0]), operands.count == candidates[0].operands.count - 1 {
            operands.append(.register(0))
        }
        for opcode in candidates where opcode.operands.count == operands.count {
            var values: [Int] = []
            var labelUses: [(OperandField, String, Int)] = []
            var fits = true
            for (k, (spec, operand)) in zip(opcode.operands, operands).enumerated() {
                guard let value = operandValue(spec, operand) else { fits = false; break }
                if spec.kind == .label, case .name(let label) = operand {
                    labelUses.append((spec.field, label, columns[min(k, columns.count - 1)]))
                }
                values.append(value)
            }
            if fits { return (opcode, values, labelUses) }
        }
        let forms = candidates.map { op in "\(mnemonic) " + op.operands.map(describe).joined(separator: ", ") }
        report(line, column, "operands do not fit \(mnemonic); expected " + forms.joined(separator: " or "))
        return nil
    }

    private func describe(_ spec: OperandSpec) -> String {
        switch spec.kind {
        case .register: "register"
        case .immediate: "small integer"
        case .constant: "value"
        case .function: "function"
        case .count: "count"
        case .label: "label"
        }
    }

    /// The encoded value of `operand` for `spec`, or `nil` if it does not fit.
    private mutating func operandValue(_ spec: OperandSpec, _ operand: Operand) -> Int? {
        let bits = Int(spec.field.layout.bits)
        switch (spec.kind, operand) {
        case (.register, .register(let r)):
            return r
        case (.immediate, _):
            guard let n = integerValue(operand) else { return nil }
            let limit = Int64(1) << (bits - 1)
            return n >= -limit && n < limit ? Int(n) : nil
        case (.count, _):
            guard let n = integerValue(operand), n >= 0, n < Int64(1) << bits else { return nil }
            return Int(n)
        case (.function, .name(let f)), (.function, .literal(.function(let f))):
            return functionIndex[f]?.index
        case (.label, .name):
            return 0  // resolved by a fixup
        case (.constant, .literal(let literal)):
            return pool(literal).flatMap { $0 < 1 << bits ? $0 : nil }
        case (.constant, .name(let name)):
            guard let literal = constantsByName[name] else { return nil }
            return pool(literal).flatMap { $0 < 1 << bits ? $0 : nil }
        default:
            return nil
        }
    }

    private func integerValue(_ operand: Operand) -> Int64? {
        switch operand {
        case .literal(.int(let n)): return n
        case .name(let name): if case .int(let n)? = constantsByName[name] { return n } else { return nil }
        default: return nil
        }
    }

    /// The constant pool index of `literal`, adding it (and its atoms) on first use.
    private mutating func pool(_ literal: Literal) -> Int? {
        guard let constant = resolve(literal) else { return nil }
        if let index = constantIndex[constant] { return index }
        constants.append(constant)
        constantIndex[constant] = constants.count - 1
        return constants.count - 1
    }

    private mutating func resolve(_ literal: Literal) -> Constant? {
        switch literal {
        case .nil: return .nil
        case .bool(let b): return .bool(b)
        case .int(let n): return .int(n)
        case .float(let d): return .float(bitPattern: d.bitPattern)
        case .string(let s): return .string(s)
        case .atom(let name):
            if let index = atomIndex[name] { return .atom(UInt32(index)) }
            atoms.append(name)
            atomIndex[name] = atoms.count - 1
            return .atom(UInt32(atoms.count - 1))
        case .function(let f):
            guard let index = functionIndex[f]?.index else { return nil }
            return .function(UInt32(index))
        case .tuple(let elements):
            var out: [Constant] = []
            for e in elements {
                guard let c = resolve(e) else { return nil }
                out.append(c)
            }
            return .tuple(out)
        }
    }
}
