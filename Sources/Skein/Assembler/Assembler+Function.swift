/// A function between its `func` line and its `end`: the code so far and what is resolved when
/// the function is finished (labels, the register count, the scratch register).
struct FunctionInProgress {
    /// A jump to a label, patched when the function ends (labels may be defined later).
    struct LabelUse {
        var word: Int
        var field: OperandField
        var label: String
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
    var labels: [String: Int] = [:]
    var labelUses: [LabelUse] = []
    /// Operand fields that name the scratch register, whose number is known only at the end.
    var scratchUses: [(word: Int, field: OperandField)] = []
    var highestRegister = -1
    var lastOpcode: Opcode?
    /// The line number set by `.line`, which replaces the text's own line numbers.
    var lineOverride: Int?
}

extension Assembler {
    /// Opens the function of the `func` line in `tokens`.
    mutating func startFunction(_ line: Int) {
        guard let (name, arity) = signature() else {
            skippingBody = true  // pass 1 reported the signature
            return
        }
        var declared: Int?
        if tokens.count > 4 {
            if tokens.count == 7, case .identifier("regs") = tokens[4].kind, tokens[5].kind == .equals,
               case .integer(let n) = tokens[6].kind, n >= 0, n <= BinaryFormat.maxRegisters {
                declared = Int(n)
            } else {
                report(line, tokens[4].column,
                       "unexpected text after the signature (only 'regs=N' may follow, N up to \(BinaryFormat.maxRegisters))")
            }
        }
        function = FunctionInProgress(name: name, arity: arity, headerLine: line, headerColumn: tokens[0].column,
                                      declaredRegisters: declared, diagnosticsBefore: diagnostics.count,
                                      highestRegister: arity - 1)
        inFunction = true
    }

    /// Assembles the line in `tokens`, which belongs to the current function.
    mutating func assembleInstruction(_ line: Int) {
        if case .directive("line") = tokens[0].kind {
            if tokens.count == 2, case .integer(let n) = tokens[1].kind, n > 0, n <= Int64(UInt32.max) {
                function.lineOverride = Int(n)
            } else {
                report(line, tokens[0].column, ".line expects a positive line number")
            }
            return
        }
        var p = 0
        while p < tokens.count, case .label(let label) = tokens[p].kind {
            if function.labels.updateValue(function.code.count, forKey: label) != nil {
                report(line, tokens[p].column, "label '\(label)' is defined twice in \(function.name)")
            }
            p += 1
        }
        guard p < tokens.count else { return }
        guard case .identifier(let mnemonic) = tokens[p].kind else {
            report(line, tokens[p].column, "expected an instruction")
            return
        }
        let column = tokens[p].column
        guard let operands = parseOperands(from: p + 1, line: line),
              let encoding = select(mnemonic, operands, line: line, column: column) else { return }
        var preload: Encoding?
        if let scratch = encoding.scratch {
            preload = select("load", [(.register(0), column), (.literal(scratch.value), column)], line: line, column: column)
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
        let sourceLine = UInt32(function.lineOverride ?? line)
        if function.lines.last?.line != sourceLine {
            function.lines.append(LineEntry(pc: UInt32(function.code.count), line: sourceLine))
        }
        if let preload {
            function.scratchUses.append((function.code.count, .a))
            emit(preload, line: line, scratchOperand: 0)
        }
        if let scratch = encoding.scratch { function.scratchUses.append((function.code.count, scratch.field)) }
        emit(encoding, line: line, scratchOperand: encoding.scratch?.operand)
    }

    /// Appends the words of one instruction to the function, noting its registers and label use.
    private mutating func emit(_ encoding: Encoding, line: Int, scratchOperand: Int?) {
        let opcode = encoding.opcode
        for (k, spec) in opcode.operands.enumerated() where spec.kind == .register && k != scratchOperand {
            function.highestRegister = max(function.highestRegister, encoding.values[k])
        }
        if let run = opcode.registerRun {
            // `check` made sure the run ends within the register limit.
            let count = run.count.map { encoding.values[$0] } ?? calleeArity(opcode, encoding.values)
            if count > 0 { function.highestRegister = max(function.highestRegister, encoding.values[run.start] + count - 1) }
        }
        for label in encoding.labels {
            function.labelUses.append(FunctionInProgress.LabelUse(word: function.code.count, field: label.field, label: label.name,
                                                           line: line, column: label.column))
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
        var f = function
        function = FunctionInProgress()
        inFunction = false
        let (line, column) = (f.headerLine, f.headerColumn)
        if !sawEnd { report(line, column, "function \(f.name) has no 'end'") }
        for use in f.labelUses {
            guard let target = f.labels[use.label] else {
                report(use.line, use.column, "unknown label '\(use.label)' in function \(f.name)")
                continue
            }
            // A label after the last instruction marks no instruction: the verifier would
            // refuse the jump (found by the assembler fuzzer).
            guard target < f.code.count else {
                report(use.line, use.column, "label '\(use.label)' is at the end of function \(f.name), with no instruction after it to jump to")
                continue
            }
            if use.field == .x {
                f.code[use.word + 1] = UInt64(target)
            } else {
                f.code[use.word] |= UInt64(target) << use.field.layout.shift
            }
        }
        if diagnostics.count == f.diagnosticsBefore {
            if let last = f.lastOpcode, !last.isTerminator {
                report(line, column, "function \(f.name) can fall off its end: finish it with ret, tailcall, jmp or raise")
            } else if f.code.isEmpty {
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
                for use in f.scratchUses { f.code[use.word] |= UInt64(scratch) << use.field.layout.shift }
            }
        }
        if registers > BinaryFormat.maxRegisters {
            let why = f.scratchUses.isEmpty ? "" : " (one of them holds constants too large for their instructions)"
            report(line, column, "function \(f.name) needs \(registers) registers\(why); at most \(BinaryFormat.maxRegisters) are allowed")
        }
        finishedCodeWords += f.code.count
        functions.append(FunctionDefinition(name: f.name, arity: f.arity, registerCount: registers, code: f.code, lines: f.lines))
    }
}
