/// A function between its `func` line and its `end`: the code so far and what is resolved when
/// the function is finished (labels, the register count, the scratch register).
struct FunctionInProgress {
    /// A jump to a label, patched when the function ends (labels may be defined later).
    struct LabelUse {
        var word: Int
        var field: OperandField
        var label: Symbol
        var line: Int
        var column: Int
    }

    var name = ""
    var arity = 0
    var headerLine = 0
    var headerColumn = 0
    /// `regs=N` on the `func` line, if given.
    var declaredRegisters: Int?
    /// Diagnostics reported before the function started: a body with errors of its own has lost
    /// lines, so what it seems to end with or lack says nothing.
    var diagnosticsBefore = 0
    var code: [UInt64] = []
    var lines: [LineEntry] = []
    var labelUses: [LabelUse] = []
    /// Operand fields that name the scratch register, whose number is known only at the end.
    var scratchUses: [(word: Int, field: OperandField)] = []
    var highestRegister = -1
    var lastOpcode: Opcode?
    /// The code position of the last label defined: an instruction there is a jump target.
    var labelPosition = -1
    /// The line number set by `.line`, which replaces the text's own line numbers.
    var lineOverride: Int?
}

/// Where a label points: code position `pc` of the function numbered `owner` (in the order
/// functions were started).
struct LabelDefinition {
    var owner: Int32
    var pc: Int32
}

extension Assembler {
    /// Code words from which a function's buffers are given to the module instead of copied.
    static let largeFunctionWords = 4096

    /// Opens the function of the `func` line in `tokens`.
    mutating func startFunction(_ line: Int) {
        guard let (name, arity) = signature() else {
            skippingBody = true  // pass 1 reported the signature
            return
        }
        let (declared, _, unexpected) = signatureExtras()
        if let unexpected {
            report(line, tokens[unexpected].column,
                   "unexpected text after the signature (only 'regs=N', N up to \(BinaryFormat.maxRegisters), and 'export' may follow)")
        }
        functionsStarted += 1  // forgets the labels of the previous function
        // The buffers of the last function are kept, emptied: a function's code grows in capacity
        // already there, and the module gets one exactly sized copy (see `finishFunction`).
        var next = FunctionInProgress(name: string(name), arity: arity, headerLine: line, headerColumn: tokens[0].column,
                                      declaredRegisters: declared, diagnosticsBefore: diagnostics.count,
                                      highestRegister: arity - 1)
        swap(&next.code, &function.code)
        swap(&next.lines, &function.lines)
        swap(&next.labelUses, &function.labelUses)
        swap(&next.scratchUses, &function.scratchUses)
        function = next
        function.code.removeAll(keepingCapacity: true)
        function.lines.removeAll(keepingCapacity: true)
        function.labelUses.removeAll(keepingCapacity: true)
        function.scratchUses.removeAll(keepingCapacity: true)
        inFunction = true
    }

    /// What follows `func NAME/ARITY` in `tokens`: `regs=N` (the register count asked for) and
    /// `export` (the per-function form of an `export` statement), in any order; the index of
    /// the first token that is neither, if any.
    func signatureExtras() -> (registers: Int?, exported: Bool, unexpected: Int?) {
        var registers: Int?, exported = false
        var p = 4
        while p < tokens.count {
            if tokens[p].isKeyword(.export), !exported {
                exported = true
                p += 1
            } else if registers == nil, p + 2 < tokens.count, tokens[p].isKeyword(.regs), tokens[p + 1].kind == .equals,
                      tokens[p + 2].kind == .integer, tokens[p + 2].payload >= 0, tokens[p + 2].payload <= BinaryFormat.maxRegisters {
                registers = Int(tokens[p + 2].payload)
                p += 3
            } else {
                return (registers, exported, p)
            }
        }
        return (registers, exported, nil)
    }

    /// Assembles the line in `tokens`, which belongs to the current function.
    mutating func assembleInstruction(_ line: Int) {
        if tokens[0].kind == .directive, tokens[0].symbol == Keyword.line.symbol {
            if tokens.count == 2, tokens[1].kind == .integer, tokens[1].payload > 0, tokens[1].payload <= Int64(UInt32.max) {
                function.lineOverride = Int(tokens[1].payload)
            } else {
                report(line, tokens[0].column, ".line expects a positive line number")
            }
            return
        }
        var p = 0
        while p < tokens.count, tokens[p].kind == .label {
            let label = tokens[p].symbol
            if labels[label].owner == functionsStarted {
                report(line, tokens[p].column, "label '\(string(label))' is defined twice in \(function.name)")
            }
            labels[label] = LabelDefinition(owner: functionsStarted, pc: Int32(function.code.count))
            function.labelPosition = function.code.count
            p += 1
        }
        guard p < tokens.count else { return }
        guard tokens[p].kind == .identifier else {
            report(line, tokens[p].column, "expected an instruction")
            return
        }
        let mnemonic = tokens[p].symbol
        let column = tokens[p].column
        guard parseOperands(from: p + 1, line: line), let encoding = select(mnemonic, written, line: line, column: column) else { return }
        var preload: Encoding?
        if let scratch = encoding.scratch {
            preload = select(Keyword.load.symbol, [(.register(0), column), (.literal(scratch.value), column)], line: line, column: column)
            guard preload != nil else { return }
        }
        let words = encoding.opcode.wordCount + (preload?.opcode.wordCount ?? 0)
        guard finishedCodeWords + function.code.count + words <= Verifier.maxProgramWords else {
            if !reportedCodeLimit {
                reportedCodeLimit = true
                report(line, column, "the program is longer than \(Verifier.maxProgramWords) code words (jump targets are 24-bit)")
            }
            return
        }
        if preload == nil, fuseBackEdge(encoding, line: line) { return }
        let sourceLine = UInt32(function.lineOverride ?? line)
        if function.lines.last?.line != sourceLine {
            function.lines.append(LineEntry(pc: UInt32(function.code.count), line: sourceLine))
        }
        if let preload {
            function.scratchUses.append((function.code.count, .a))
            emit(preload, nil, line: line, scratchOperand: 0)
        }
        if let scratch = encoding.scratch { function.scratchUses.append((function.code.count, scratch.field)) }
        emit(encoding, written, line: line, scratchOperand: encoding.scratch?.operand)
    }

    /// Emits a `jlt`/`jle` with the `addi` just before it as one loop back-edge instruction
    /// (`Opcode.fusedBackEdge`), unless the branch is a jump target (a jump to it would land
    /// inside the fused instruction). The pair's two words become the fused instruction's two, so
    /// no position moves; it keeps the `addi`'s source line, the only one an error there can
    /// have (comparing the number the addition made cannot fail).
    private mutating func fuseBackEdge(_ branch: Encoding, line: Int) -> Bool {
        guard branch.scratch == nil, function.lastOpcode == .addi, function.labelPosition != function.code.count,
              let addi = function.code.last,
              let fused = Opcode.fusedBackEdge(addi, Instruction.encode(branch.opcode, branch.values).word) else { return false }
        var values = OperandValues()
        for value in [addi.fieldA, addi.fieldSC, branch.values[1], 0] { values.append(value) }
        function.code.removeLast()
        // `emit` reads only the label among the written operands: the branch's, now fourth.
        emit(Encoding(opcode: fused, values: values), [written[0], written[0], written[1], written[2]], line: line, scratchOperand: nil)
        return true
    }

    /// Appends the words of one instruction to the function, noting its registers and the labels
    /// among its `written` operands.
    private mutating func emit(_ encoding: Encoding, _ written: [(operand: Operand, column: Int)]?, line: Int, scratchOperand: Int?) {
        let opcode = encoding.opcode
        for (k, spec) in opcode.operands.enumerated() where spec.kind == .register && k != scratchOperand {
            function.highestRegister = max(function.highestRegister, encoding.values[k])
        }
        if let run = opcode.registerRun {
            // `check` made sure the run ends within the register limit.
            let count = run.count.map { encoding.values[$0] } ?? calleeArity(opcode, encoding.values)
            if count > 0 { function.highestRegister = max(function.highestRegister, encoding.values[run.start] + count - 1) }
        }
        if let written {
            for (k, spec) in opcode.operands.enumerated() where spec.kind == .label {
                // `encode` accepts only a name for a label operand.
                guard case .name(let label) = written[k].operand else { continue }
                function.labelUses.append(FunctionInProgress.LabelUse(word: function.code.count, field: spec.field, label: label,
                                                                      line: line, column: written[k].column))
            }
        }
        let encoded = Instruction.encode(opcode, encoding.values)
        function.code.append(encoded.word)
        if let extra = encoded.extra { function.code.append(extra) }
        function.lastOpcode = opcode
    }

    /// Closes the current function: resolves its labels, counts its registers (placing the
    /// scratch register after every other) and checks what the verifier will check.
    mutating func finishFunction(sawEnd: Bool) {
        guard inFunction else { return }
        inFunction = false
        // A small function's code and lines go to the module as exactly sized copies, and the
        // buffers stay for the next function. A large function's buffers go to the module as they
        // are (copying every word would cost more than the spare capacity is worth).
        var code: [UInt64] = []
        var lines: [LineEntry] = []
        if function.code.count >= Assembler.largeFunctionWords {
            swap(&code, &function.code)
            swap(&lines, &function.lines)
        } else {
            code = function.code.withUnsafeBufferPointer { Array($0) }
            lines = function.lines.withUnsafeBufferPointer { Array($0) }
        }
        let f = function  // the other buffers are only read below, and kept for the next function
        let (line, column) = (f.headerLine, f.headerColumn)
        if !sawEnd { report(line, column, "function \(f.name) has no 'end'") }
        for use in f.labelUses {
            let definition = labels[use.label]
            guard definition.owner == functionsStarted else {
                report(use.line, use.column, "unknown label '\(string(use.label))' in function \(f.name)")
                continue
            }
            let target = Int(definition.pc)
            // A label after the last instruction marks no instruction: the verifier would
            // refuse the jump (found by the assembler fuzzer).
            guard target < code.count else {
                report(use.line, use.column, "label '\(string(use.label))' is at the end of function \(f.name), with no instruction after it to jump to")
                continue
            }
            if use.field == .x {
                code[use.word + 1] = UInt64(target)
            } else {
                code[use.word] |= UInt64(target) << use.field.layout.shift
            }
        }
        if diagnostics.count == f.diagnosticsBefore {
            if let last = f.lastOpcode, !last.isTerminator {
                report(line, column, "function \(f.name) can fall off its end: finish it with ret, tailcall, jmp or raise")
            } else if code.isEmpty {
                report(line, column, "function \(f.name) has no instructions")
            }
        }
        var registers = f.highestRegister + 1
        if let declared = f.declaredRegisters {
            if declared < registers {
                report(line, column, "regs=\(declared) but the function uses \(registers) registers")
            }
            registers = max(registers, declared)
        }
        if !f.scratchUses.isEmpty {
            // A value too large for its instruction was loaded into a register of its own.
            let scratch = registers
            registers += 1
            if scratch < BinaryFormat.maxRegisters {
                for use in f.scratchUses { code[use.word] |= UInt64(scratch) << use.field.layout.shift }
            }
        }
        if registers > BinaryFormat.maxRegisters {
            let why = f.scratchUses.isEmpty ? "" : " (one of them holds constants too large for their instructions)"
            report(line, column, "function \(f.name) needs \(registers) registers\(why); at most \(BinaryFormat.maxRegisters) are allowed")
        }
        finishedCodeWords += code.count
        functions.append(FunctionDefinition(name: f.name, arity: f.arity, registerCount: registers, code: code, lines: lines))
    }
}
