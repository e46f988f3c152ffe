/// Starting processes, links, monitors, exit signals, `sleep` and the name registry.
///
/// The semantics (BEAM's, with the differences stated) are in docs/processes.md; the signal
/// side (what the target does with a signal) is `SignalHandling`.
extension Interpreter {
    /// `spawn`, `spawnlink`, `spawnmon` and their `r` forms (function from a register).
    func spawn(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let op = word.verifiedOpcode
        let callee: Int
        let argc: Int
        switch op {
        case .spawn, .spawnlink, .spawnmon:
            callee = word.fieldB
            argc = program.functions[callee].arity
        default:
            argc = word.fieldD
            callee = try functionIndex(registers[word.fieldB], argc: argc)
        }
        let options = SpawnOptions(link: op == .spawnlink || op == .spawnlinkr, monitor: op == .spawnmon || op == .spawnmonr)
        let arguments = UnsafeBufferPointer(start: registers + word.fieldC, count: argc)
        let result = try host.spawn(callee, arguments: arguments, options: options)
        if let ref = result.monitor {
            let object = try allocate(words: 3, reductions: &reductions)
            object[0] = HeapObject.header(.tuple, payloadWords: 2)
            object[1] = Value.pid(result.pid).raw
            object[2] = Value.ref(ref).raw
            registers[word.fieldA] = Value.object(object).raw
        } else {
            registers[word.fieldA] = Value.pid(result.pid).raw
        }
    }

    /// The pid in register `index`, or a type error naming `operation`.
    private func pid(in index: Int, for operation: String) throws(Fault) -> UInt64 {
        let v = Value(raw: registers[index])
        guard v.isPid else { throw Fault(kind: .typeMismatch, detail: "\(operation) needs a pid, got \(host.printer.text(v, quoted: true, limit: Printer.reportBytes))") }
        return v.immediatePayload
    }

    /// `link`, `unlink`, `monitor`, `demonitor`, `trapexit`, `exit pid, reason`.
    func processSignal(_ word: UInt64) throws(Fault) {
        let me = selfPid
        let process = processRef
        switch word.verifiedOpcode {
        case .link:
            let other = try pid(in: word.fieldA, for: "link")
            guard other != me, process._withUnsafeGuaranteedRef({ $0.links.insert(other).inserted }) else { return }
            host.signal(.link(from: me), to: other)
        case .unlink:
            let other = try pid(in: word.fieldA, for: "unlink")
            guard process._withUnsafeGuaranteedRef({ $0.links.remove(other) != nil }) else { return }
            host.signal(.unlink(from: me), to: other)
        case .monitor:
            let other = try pid(in: word.fieldB, for: "monitor")
            let ref = host.makeReference()
            registers[word.fieldA] = Value.ref(ref).raw
            process._withUnsafeGuaranteedRef { $0.monitors[ref] = other }
            host.signal(.monitor(from: me, ref: ref), to: other)
        case .demonitor:
            let v = Value(raw: registers[word.fieldA])
            guard v.isRef else { throw Fault(kind: .typeMismatch, detail: "demonitor needs a reference, got \(host.printer.text(v, quoted: true, limit: Printer.reportBytes))") }
            let ref = v.immediatePayload
            guard let other = process._withUnsafeGuaranteedRef({ $0.monitors.removeValue(forKey: ref) }) else { return }
            host.signal(.demonitor(from: me, ref: ref), to: other)
            // Like Erlang's demonitor(Ref, [flush]): a {:DOWN, ref, ...} already queued goes too.
            let host = self.host
            if let down = mailbox.removeFirst({ host.handleSignal($0) }, where: { MessageNode.isDown($0, ref: ref) }) { host.recycle(down) }
        case .trapexit:
            let on = Value(raw: registers[word.fieldA]).isTruthy
            process._withUnsafeGuaranteedRef { $0.trapsExits = on }
        default:  // exitto
            let target = try pid(in: word.fieldA, for: "exit")
            host.signal(.exit(from: me, reason: Value(raw: registers[word.fieldB]), linked: false), to: target)
        }
    }

    /// `maxheap rBytes`: this process's heap limit, in bytes (BEAM's `process_flag(max_heap_size)`),
    /// at most the VM's (`--max-heap`, which is also what `nil` restores). A limit below what
    /// the process already holds ends it at its next collection.
    func setHeapLimit(_ v: Value) throws(Fault) {
        let vmLimit = host.heapLimitWords
        if v == .nil {
            ctx.pointee.heap.limitWords = vmLimit
            return
        }
        guard v.isSmallInt, v.smallIntValue > 0 else {
            throw Fault(kind: .badArgument, detail: "maxheap needs a positive number of bytes or nil, got \(host.printer.text(v, quoted: true, limit: Printer.reportBytes))")
        }
        ctx.pointee.heap.limitWords = min(max(Int(v.smallIntValue) / 8, 1024), vmLimit)
    }

    /// `exit reason`: the process ends with `reason` (not catchable: it is how a process
    /// chooses to stop).
    func exit(reason: Value) -> SliceOutcome {
        let node: MessageNode
        do { node = try MessageNode.make(copying: reason) } catch {
            node = Term.atom("too_deep").messageNode(atoms: host.atoms)
        }
        processRef._withUnsafeGuaranteedRef { $0.exitReason = node }
        return .exited
    }

    /// `sleep`: suspends for the given milliseconds, or returns nil when the sleep is over.
    func sleep(_ word: UInt64, at start: Int) throws(Fault) -> SliceOutcome? {
        let woken = processRef._withUnsafeGuaranteedRef { p -> Bool in
            defer { p.timedOut = false }
            return p.timedOut
        }
        if woken { return nil }  // woken by its own timeout: the sleep is over
        let ms = word.opcodeIs(.sleepi) ? word.fieldSBx : try Interpreter.milliseconds(Value(raw: registers[word.fieldA]))
        return save(start, .sleep(milliseconds: ms))
    }

    /// A timeout operand in milliseconds (negative is 0; capped at about 24 days).
    static func milliseconds(_ v: Value) throws(Fault) -> Int {
        guard v.isSmallInt else { throw Fault(kind: .typeMismatch, detail: "a timeout must be an integer number of milliseconds") }
        return Int(max(0, min(v.smallIntValue, Int64(Int32.max))))
    }

    /// `register rD, rName, rPid`, `unregister rD, rName`, `whereis rD, rName`.
    func registry(_ word: UInt64) throws(Fault) {
        var reductions = 0
        let nameValue = Value(raw: registers[word.fieldB])
        guard nameValue.isAtom else { throw Fault(kind: .typeMismatch, detail: "a process name must be an atom, got \(host.printer.text(nameValue, quoted: true, limit: Printer.reportBytes))") }
        let name = Int(nameValue.immediatePayload)
        switch word.verifiedOpcode {
        case .register:
            let target = try pid(in: word.fieldC, for: "register")
            let outcome: Term = switch host.register(name, target) {
            case .registered: .atom("ok")
            case .nameTaken: .tuple([.atom("error"), .atom("name_taken")])
            case .alreadyNamed: .tuple([.atom("error"), .atom("already_named")])
            case .noProcess: .tuple([.atom("error"), .atom("noproc")])
            }
            try storeTerm(outcome, into: word.fieldA, reductions: &reductions)
        case .unregister:
            registers[word.fieldA] = Value.bool(host.unregister(name)).raw
        default:  // whereis
            registers[word.fieldA] = host.whereis(name).map { Value.pid($0).raw } ?? Value.nil.raw
        }
    }
}
