// A plugin host: runs untrusted plugins under limits and a sandbox, and lives on whatever
// they do. Each plugin gets a VM of its own with a memory limit, a deadline, a reduction budget
// and no file or network access; the host prints how each one ended, as a typed value.
//
//   swift run plugin-host
//
// Exits 0 when every plugin ended the way the host expected.
import Foundation
import Skein

/// The plugins: what they do, and how the host expects their run to end.
let plugins: [(name: String, source: String, expected: String)] = [
    ("memory hog", """
    func main/0                    ; doubles a string until the VM's memory limit ends it
        load   r0, "0123456789abcdef"
    grow:
        concat r0, r0, r0
        jmp    grow
    end
    """, "failed: memory_limit"),
    ("infinite loop", """
    func main/0
        load   r0, 0
    spin:
        add    r0, r0, 1
        jmp    spin
    end
    """, "limit: \(RunLimit.reductions)"),
    ("sleeper", """
    func main/0
        recv   r0                  ; waits for a message that never comes
        ret    r0
    end
    """, "limit: \(RunLimit.deadline)"),
    ("file reader", """
    func main/0                    ; tries to read a system file
        load   r0, "/etc/passwd"
        io     r1, :read_file, r0, 1
        ret    r1
    end
    """, "returned: {:error, :EACCES"),
    ("well behaved", """
    func main/0
        load   r0, 6
        mul    r0, r0, 7
        ret    r0
    end
    """, "returned: 42"),
]

/// How a run ended, in one line.
func describe(_ status: VM.ExitStatus) -> String {
    switch status {
    case .returned(let value): "returned: \(value)"
    case .failed(let error): "failed: \(error.kind.atom) (\(error.detail))"
    case .limitReached(let limit): "limit: \(limit)"
    case .exited(let reason): "exited: \(reason)"
    case .halted(let code): "halted: \(code)"
    case .stopped: "stopped"
    }
}

var surprises = 0
for plugin in plugins {
    var options = VM.Options(workers: 2, errors: OutputSink { _ in })
    options.maxMemoryBytes = 64 << 20      // the whole VM
    options.maxHeapBytes = 256 << 20       // each process (the VM's limit comes first here)
    options.maxReductions = 2_000_000      // all processes together
    options.deadline = .seconds(2)
    options.maxProcesses = 1_000
    options.capabilities = .none           // no files, no network, no stdin
    do {
        let vm = try VM(module: try Assembler.assemble(plugin.source, file: "\(plugin.name).ska"), options: options)
        let outcome = describe(vm.runMain())
        vm.shutdown()
        let asExpected = outcome.hasPrefix(plugin.expected)
        if !asExpected { surprises += 1 }
        print("\(plugin.name): \(outcome)\(asExpected ? "" : "  (expected \(plugin.expected))")")
    } catch {
        surprises += 1
        print("\(plugin.name): did not load: \(error)")
    }
}
print(surprises == 0 ? "the host is still here" : "\(surprises) plugins surprised the host")
exit(surprises == 0 ? 0 : 1)
