import CSkeinSupport

/// Receiving: the plain forms (`recv`, take the oldest message), `recvtag` (the first message
/// whose first element equals a key) and the general selective receive (`peek`, `recvnext`,
/// `take`, `recvwait`, `recvmark`) on which any pattern can be written in ordinary code.
///
/// A receive that finds nothing saves its position and suspends; when a message or signal
/// arrives the instruction runs again. The mailbox's scan cursor survives the suspension, so a
/// selective receive resumes after the last message it looked at (no quadratic rescans), and
/// its timeout is a deadline fixed when it first suspended (unrelated arrivals do not restart
/// it). Signals met along the way are acted on in arrival order (`SliceHost.handleSignal`).
extension Interpreter {
    /// Runs a receive instruction. Returns an outcome when the slice must end, nil to continue
    /// at `pc` (which it may move).
    func receive(_ word: UInt64, pc: inout Int, reductions: inout Int) throws(Fault) -> SliceOutcome? {
        let start = pc - 1
        let op = word.verifiedOpcode
        let host = self.host
        let mailbox = self.mailbox
        var exiting = false
        // Where a timed-out receive continues: field T, or X of the extension word.
        let timeoutTarget: Int = op.wordCount == 2 ? program.code[start + 1].field(.x) : word.fieldT
        if op.wordCount == 2 { pc &+= 1 }

        switch op {
        case .recv, .recvt, .recvti:
            if op != .recv, takeTimeout() { return timedOut(to: timeoutTarget, &pc, &reductions) }
            if let message = mailbox.takeOldest({ host.handleSignal($0) }, exiting: &exiting) {
                try deliver(message, into: word.fieldA, reductions: &reductions)
                return nil
            }
        case .recvtag, .recvtagt, .recvtagti:
            if op != .recvtag, takeTimeout() { return timedOut(to: timeoutTarget, &pc, &reductions) }
            let key = registers[word.fieldB]
            while let message = mailbox.current({ host.handleSignal($0) }, exiting: &exiting) {
                let v = message.value
                if v.heapKind == .tuple, v.tupleCount > 0, try equal(v.tupleElements[0], key) {
                    try deliver(mailbox.takeCurrent()!, into: word.fieldA, reductions: &reductions)
                    return nil
                }
                _ = mailbox.advance()
            }
        case .peek:
            guard let message = mailbox.current({ host.handleSignal($0) }, exiting: &exiting) else {
                if exiting { return save(start, .exited) }
                if Interpreter.jump(to: word.fieldT, &pc, &reductions) { return save(pc, .exhausted) }
                return nil
            }
            registers[word.fieldA] = try copyIn(message.value, reductions: &reductions)
            return nil
        case .recvnext:
            guard mailbox.advance() else { throw Fault(kind: .badArgument, detail: "recvnext with no message under the cursor (peek first)") }
            return nil
        case .take:
            guard let message = mailbox.takeCurrent() else { throw Fault(kind: .badArgument, detail: "take with no message under the cursor (peek first)") }
            host.recycle(message)
            host.countReceived()
            return nil
        case .recvmark:
            return mailbox.mark({ host.handleSignal($0) }) ? nil : save(start, .exited)
        default:  // recvwait, recvwaitt, recvwaitti
            if op != .recvwait, takeTimeout() { return timedOut(to: timeoutTarget, &pc, &reductions) }
            if mailbox.current({ host.handleSignal($0) }, exiting: &exiting) != nil {
                // Something new under the cursor: back to the peek.
                if Interpreter.jump(to: word.fieldT, &pc, &reductions) { return save(pc, .exhausted) }
                return nil
            }
        }
        if exiting { return save(start, .exited) }

        // Nothing matched: wait, or time out at once.
        let timeout: Int?
        switch op {
        case .recvt: timeout = try Interpreter.milliseconds(Value(raw: registers[word.fieldB]))
        case .recvti: timeout = max(0, word.fieldSB)
        case .recvtagt: timeout = try Interpreter.milliseconds(Value(raw: registers[word.fieldC]))
        case .recvtagti: timeout = max(0, word.fieldSC)
        case .recvwaitt: timeout = try Interpreter.milliseconds(Value(raw: registers[word.fieldA]))
        case .recvwaitti: timeout = max(0, word.fieldSA)
        default: timeout = nil
        }
        guard let timeout else { return save(start, .waitForMessage(timeout: nil)) }
        let now = skein_monotonic_ns()
        let deadline = mailbox.deadline ?? now + Int64(timeout) * 1_000_000
        mailbox.deadline = deadline
        let remaining = (deadline - now + 999_999) / 1_000_000
        guard remaining > 0 else { return timedOut(to: timeoutTarget, &pc, &reductions) }
        return save(start, .waitForMessage(timeout: Int(remaining)))
    }

    /// A receive that timed out continues at `target`, spending a reduction like any branch:
    /// a zero-timeout receive that loops back to itself must still end its slice (found by the
    /// run fuzzer: `recvti r0, 0, L0` at L0 ran one slice for ever, and the VM could not stop).
    private func timedOut(to target: Int, _ pc: inout Int, _ reductions: inout Int) -> SliceOutcome? {
        mailbox.endScan()
        return Interpreter.jump(to: target, &pc, &reductions) ? save(pc, .exhausted) : nil
    }

    /// Whether the process was woken by its receive timeout (consuming the flag).
    private func takeTimeout() -> Bool {
        processRef._withUnsafeGuaranteedRef { p in
            defer { p.timedOut = false }
            return p.timedOut
        }
    }

    /// Copies a taken message into the heap, stores it in `register` and frees its node.
    private func deliver(_ message: MessageNode, into register: Int, reductions: inout Int) throws(Fault) {
        try store(message, into: register, reductions: &reductions)
        host.countReceived()
    }
}

