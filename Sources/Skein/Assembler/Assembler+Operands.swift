extension OperandKind {
    /// Whether an operand of this kind is written as a value (an immediate or a constant).
    fileprivate var takesValue: Bool { self == .immediate || self == .constant }
}

/// The operands of an instruction: parsing them, picking the instruction form they fit and
/// pooling the constants they name.
///
/// A value is accepted wherever one form of the instruction takes an immediate or a constant,
/// whatever its size: the assembler uses the immediate form when the value fits, the constant
/// form (`jeqk`) when there is one, and otherwise the register form with the value loaded into a
/// scratch register first (`loadi`/`loadk` just before the instruction, on the same source line).
extension Assembler {
    /// One instruction ready to be emitted.
    struct Encoding {
        var opcode: Opcode
        /// Operand values in `opcode.operands` order (labels and the scratch register are 0 until
        /// the function ends; the label operands are names among the written operands).
        var values = OperandValues()
        /// The operand that names the scratch register, and the value to load into it first.
        var scratch: (operand: Int, field: OperandField, value: Literal)?
    }

    // MARK: Parsing

    /// The operands in `tokens[start...]`, separated by commas, into `written` (one buffer, reused
    /// for every instruction); false after reporting an error.
    mutating func parseOperands(from start: Int, line: Int) -> Bool {
        written.removeAll(keepingCapacity: true)
        var p = start
        while p < tokens.count {
            let column = tokens[p].column
            let token = tokens[p]
            switch token.kind {
            case .register:
                written.append((.register(token.register), column))
                p += 1
            case .identifier where !token.isKeyword(.nil) && !token.isKeyword(.true) && !token.isKeyword(.false):
                p += 1
                if let arity = writtenArity(&p) {
                    written.append((.function(token.symbol, arity: arity), column))
                } else {
                    written.append((.name(token.symbol), column))
                }
            default:
                guard let (literal, _) = parseLiteral(&p, line: line, level: 0) else { return false }
                written.append((.literal(literal), column))
            }
            if p < tokens.count {
                guard tokens[p].kind == .comma else {
                    report(line, tokens[p].column, "expected ',' between operands")
                    return false
                }
                p += 1
                if p == tokens.count { report(line, tokens[p - 1].column, "operand missing after ','"); return false }
            }
        }
        return true
    }

    /// Parses one literal at `tokens[p]` inside `level` enclosing tuples, advancing `p`; returns it
    /// with its own nesting depth. Nesting beyond `BinaryFormat.maxConstantDepth` is an error at
    /// the `{` (or constant name) that crosses it, so the recursion is bounded by the limit too.
    mutating func parseLiteral(_ p: inout Int, line: Int, level: Int) -> (Literal, depth: Int)? {
        guard p < tokens.count else { report(line, tokens.last?.column ?? 1, "expected a value"); return nil }
        let token = tokens[p]
        p += 1
        let limit = BinaryFormat.maxConstantDepth
        switch token.kind {
        case .integer: return (.int(token.payload), 0)
        case .float: return (.float(bitPattern: UInt64(bitPattern: token.payload)), 0)
        case .string: return (.string(token.symbol), 0)
        case .binary: return (.binary(token.symbol), 0)
        case .atom: return (.atom(token.symbol), 0)
        case .functionRef: return (.function(token.symbol, arity: writtenArity(&p) ?? -1), 0)
        case .identifier where token.isKeyword(.nil): return (.nil, 0)
        case .identifier where token.isKeyword(.true): return (.bool(true), 0)
        case .identifier where token.isKeyword(.false): return (.bool(false), 0)
        case .identifier:
            guard let named = constantsByName[token.symbol] else {
                report(line, token.column, "unknown constant '\(string(token.symbol))'")
                return nil
            }
            guard level + named.depth <= limit else {
                report(line, token.column, "tuples nest deeper than \(limit) levels here (\(string(token.symbol)) adds \(named.depth)); "
                       + "\(limit) is the binary format's limit")
                return nil
            }
            return (named.literal, named.depth)
        case .leftBrace:
            guard level < limit else {
                report(line, token.column, "tuples nest deeper than \(limit) levels; \(limit) is the binary format's limit")
                return nil
            }
            var elements: [Literal] = []
            var depth = 1
            if p < tokens.count, tokens[p].kind == .rightBrace { p += 1; return (.tuple(tuple([])), 1) }
            while true {
                guard let (element, elementDepth) = parseLiteral(&p, line: line, level: level + 1) else { return nil }
                elements.append(element)
                depth = max(depth, elementDepth + 1)
                guard p < tokens.count else { report(line, token.column, "unclosed '{'"); return nil }
                if tokens[p].kind == .rightBrace { p += 1; return (.tuple(tuple(elements)), depth) }
                guard tokens[p].kind == .comma else { report(line, tokens[p].column, "expected ',' or '}' in a tuple"); return nil }
                p += 1
            }
        default:
            report(line, token.column, "expected a value (number, string, b\"binary\", :atom, nil, true, false, @function or {tuple})")
            return nil
        }
    }

    /// `/ARITY` after a function name at `tokens[p]`, if written there (advancing past it).
    private func writtenArity(_ p: inout Int) -> Int? {
        guard p + 1 < tokens.count, tokens[p].kind == .slash, tokens[p + 1].kind == .integer,
              (0...255).contains(tokens[p + 1].payload) else { return nil }
        p += 2
        return Int(tokens[p - 1].payload)
    }

    /// The id of the tuple literal with `elements`, made on first use.
    private mutating func tuple(_ elements: [Literal]) -> TupleID {
        if let id = tupleIndex[elements] { return id }
        let id = TupleID(id: Int32(tuples.count))
        tuples.append(elements)
        tupleIndex[elements] = id
        return id
    }

    // MARK: Choosing the form

    /// Picks the instruction form that fits the operands and encodes their values; a value too
    /// large for every form that takes one goes through the scratch register.
    mutating func select(_ mnemonic: Symbol, _ written: [(operand: Operand, column: Int)], line: Int, column: Int) -> Encoding? {
        let candidates = vocabulary.forms(of: mnemonic)
        guard !candidates.isEmpty else {
            report(line, column, "unknown instruction '\(string(mnemonic))'")
            return nil
        }
        var written = written
        // `call rD, F` / `spawn rD, F` / `tailcall F` for a function without arguments.
        let first = candidates[0]
        if first == .call || first == .spawn || first == .tailcall, written.count == first.operands.count - 1 {
            written.append((.register(0), written.last?.column ?? column))
        }
        for opcode in candidates where opcode.operands.count == written.count {
            if let encoding = encode(opcode, written) { return check(encoding, written, line: line) }
        }
        // Positions where some form takes a value: there a register form may take one through
        // the scratch register.
        for opcode in candidates where opcode.operands.count == written.count {
            for (k, spec) in opcode.operands.enumerated() where spec.kind == .register {
                guard candidates.contains(where: { $0.operands.count == written.count && $0.operands[k].kind.takesValue }),
                      let value = literal(written[k].operand), Assembler.registerForm(opcode, accepts: value) else { continue }
                var replaced = written
                replaced[k].operand = .register(0)
                if var encoding = encode(opcode, replaced) {
                    encoding.scratch = (k, spec.field, value)
                    return check(encoding, written, line: line)
                }
            }
        }
        for (operand, column) in written {
            // A function name that names no function says so, rather than that nothing fits.
            let named: (Symbol, Int)? = switch operand {
            case .name(let f) where candidates.contains(where: { $0.operands.contains { $0.kind == .function } }) && constantsByName[f] == nil: (f, -1)
            case .function(let f, let arity), .literal(.function(let f, let arity)): (f, arity)
            default: nil
            }
            if let (f, arity) = named, functionSlot(f, arity: arity) == nil {
                report(line, column, functionProblem(f, arity: arity))
                return nil
            }
        }
        let name = string(mnemonic)
        let forms = candidates.map { op in "\(name) " + op.operands.map(describe).joined(separator: ", ") }
        report(line, column, "operands do not fit \(name); expected " + forms.joined(separator: " or "))
        return nil
    }

    /// Whether the register form `opcode` may take `value` through the scratch register: any
    /// value for comparisons (the order is total), numbers for arithmetic, integers for the rest
    /// (indices, timeouts), so that an operand that can only fail at run time is an error here.
    private static func registerForm(_ opcode: Opcode, accepts value: Literal) -> Bool {
        switch (opcode, value) {
        case (.jeq, _), (.jne, _), (.jlt, _), (.jle, _), (.jgt, _), (.jge, _): true
        case (.add, .float), (.sub, .float), (.mul, .float), (.div, .float), (.rem, .float): true
        case (_, .int): true
        default: false
        }
    }

    /// `operand` as a value: a literal, or the value of a named constant.
    private func literal(_ operand: Operand) -> Literal? {
        switch operand {
        case .literal(let value): value
        case .name(let name): constantsByName[name]?.literal
        case .register, .function: nil
        }
    }

    /// Encodes `operands` for `opcode`, or `nil` if one does not fit.
    private mutating func encode(_ opcode: Opcode, _ operands: [(operand: Operand, column: Int)]) -> Encoding? {
        var encoding = Encoding(opcode: opcode)
        for (spec, (operand, _)) in zip(opcode.operands, operands) {
            guard let value = operandValue(spec, operand) else { return nil }
            encoding.values.append(value)
        }
        return encoding
    }

    /// The checks of the verifier that depend on more than one operand, reported here with a
    /// position: a run of argument registers must end within the function's registers, and an
    /// `io` or `str` instruction must name a known operation with its number of arguments.
    private mutating func check(_ encoding: Encoding, _ written: [(operand: Operand, column: Int)], line: Int) -> Encoding? {
        let values = encoding.values
        if let run = encoding.opcode.registerRun {
            let count = run.count.map { values[$0] } ?? calleeArity(encoding.opcode, values)
            let last = values[run.start] + count - 1
            guard count == 0 || last < BinaryFormat.maxRegisters else {
                report(line, written[run.start].column, "registers r\(values[run.start])…r\(last) run past "
                       + "r\(BinaryFormat.maxRegisters - 1), the last register a function can have")
                return nil
            }
        }
        switch NamedOperations.check(encoding.opcode, constant: values[1], of: constants, atoms: atoms, count: values[3]) {
        case .unknownName(let why)?:
            report(line, written[1].column, why)
            return nil
        case .wrongCount(let why)?:
            report(line, written[3].column, why)
            return nil
        case .resolved?, nil:
            return encoding
        }
    }

    /// The arity of the function a call instruction names (0 for other instructions).
    func calleeArity(_ opcode: Opcode, _ values: OperandValues) -> Int {
        guard let f = opcode.operands.firstIndex(where: { $0.kind == .function }) else { return 0 }
        return values[f] < functionArities.count + imports.count ? arity(ofSlot: values[f]) : 0
    }

    private func describe(_ spec: OperandSpec) -> String {
        switch spec.kind {
        case .register: "register"
        case .immediate: "integer"
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
            guard case .int(let n)? = literal(operand) else { return nil }
            let limit = Int64(1) << (bits - 1)
            return n >= -limit && n < limit ? Int(n) : nil
        case (.count, _):
            guard case .int(let n)? = literal(operand), n >= 0, n < Int64(1) << bits else { return nil }
            return Int(n)
        case (.function, .name(let f)):
            return functionSlot(f, arity: -1)
        case (.function, .function(let f, let arity)), (.function, .literal(.function(let f, let arity))):
            return functionSlot(f, arity: arity)
        case (.label, .name):
            return 0  // resolved when the function ends
        case (.constant, .literal), (.constant, .name):
            guard let value = literal(operand), let index = pool(value), index < 1 << bits else { return nil }
            return index
        default:
            return nil
        }
    }

    // MARK: The constant pool

    /// The constant pool index of `literal`, adding it (and its atoms) on first use.
    private mutating func pool(_ literal: Literal) -> Int? {
        // Keyed by literal, which is the constant's identity (see `Literal`), so a constant used
        // again is found without making its strings or resolving it.
        if let index = constantIndex[literal] { return index }
        guard let constant = resolve(literal) else { return nil }
        constants.append(constant)
        constantIndex[literal] = constants.count - 1
        return constants.count - 1
    }

    private mutating func resolve(_ literal: Literal) -> Constant? {
        switch literal {
        case .nil: return .nil
        case .bool(let b): return .bool(b)
        case .int(let n): return .int(n)
        case .float(let bits): return .float(bitPattern: bits)
        case .string(let s): return .string(string(s))
        case .binary(let b): return .binary(lexer.symbols.bytes(b))
        case .atom(let name):
            let index = atomIndex[name]
            if index >= 0 { return .atom(UInt32(index)) }
            atoms.append(string(name))
            atomIndex[name] = Int32(atoms.count - 1)
            return .atom(UInt32(atoms.count - 1))
        case .function(let f, let arity):
            guard let index = functionSlot(f, arity: arity) else { return nil }
            return .function(UInt32(index))
        case .tuple(let id):
            var out: [Constant] = []
            for e in tuples[Int(id.id)] {
                guard let c = resolve(e) else { return nil }
                out.append(c)
            }
            return .tuple(out)
        }
    }
}
