import ArgumentParser
import Foundation
import Skein

/// Exit codes of the `vm` command.
enum ExitCodes {
    /// The program stopped with a runtime error.
    static let runtimeError: Int32 = 1
    /// The program could not be assembled, decoded or verified.
    static let invalidProgram: Int32 = 2
    /// A file could not be read or written.
    static let ioError: Int32 = 74
}

@main
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Skein: a lightweight actor-process virtual machine.",
        discussion: """
        Programs are written in Skein assembly (.ska) or assembled to binary modules (.skb).
        See docs/assembly.md for the language.

        Exit codes: 0 success, 1 runtime error in the program, 2 invalid program,
        64 usage error, 74 file error.
        """,
        version: "skein \(VM.version) (bytecode format \(BinaryFormat.version))",
        subcommands: [Run.self, Asm.self, Disasm.self, Check.self]
    )
}

/// Reads a program file (`-`: standard input): text assembly or a binary module, by content.
func loadModule(_ path: String) throws -> Module {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError(message: "\(path) is a directory, not a program file", code: ExitCodes.ioError)
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw CLIError(message: "cannot read \(path): no such file or not readable", code: ExitCodes.ioError)
        }
        data = contents
    }
    let bytes = [UInt8](data)
    if bytes.starts(with: BinaryFormat.magic) {
        do {
            let module = try BinaryFormat.decode(bytes)
            try Verifier.verify(module)
            return module
        } catch {
            throw CLIError(message: "\(path): \(error)", code: ExitCodes.invalidProgram)
        }
    }
    do {
        // The assembler takes the bytes, so text that is not UTF-8 is reported with a position.
        let module = try Assembler.assemble(bytes: withoutInterpreterLine(bytes), file: path == "-" ? "<stdin>" : path)
        try Verifier.verify(module)
        return module
    } catch let error as AssemblyError {
        throw CLIError(message: error.description, code: ExitCodes.invalidProgram)
    } catch {
        throw CLIError(message: "\(path): \(error)", code: ExitCodes.invalidProgram)
    }
}

/// A script run directly starts with `#!/usr/bin/env -S vm run`: that line is for the
/// kernel, not the assembler. It is blanked, not removed, so line numbers stay right.
func withoutInterpreterLine(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.starts(with: Array("#!".utf8)) else { return bytes }
    guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return [] }
    return Array(bytes[newline...])
}

/// An error that ends the command with a message on stderr and an exit code.
struct CLIError: Error {
    var message: String
    var code: Int32
}

/// Prints `error` on stderr and exits with its code.
func fail(_ error: Error) -> Never {
    if let cli = error as? CLIError {
        FileHandle.standardError.write(Data("vm: \(cli.message)\n".utf8))
        exit(cli.code)
    }
    FileHandle.standardError.write(Data("vm: \(error)\n".utf8))
    exit(1)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program (.ska assembly or .skb binary).",
        discussion: """
        Runs main. A main/1 receives the arguments after the program file as an array of strings \
        (main/0 ignores them); options of vm come before the program file, or end at --. \
        The run ends when main ends (or, with --wait-all, when every process has ended).
        """)

    @Argument(help: "The program file (- reads it from standard input).")
    var program: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to the program's main/1.")
    var arguments: [String] = []

    @Option(name: .long, help: "Worker threads (default: the number of cores).")
    var workers: Int?

    @Flag(name: .long, help: "Wait for every process to end, not just main.")
    var waitAll = false

    @Flag(name: .long, help: "Print scheduler statistics on stderr at the end.")
    var stats = false

    @Option(name: .long, help: ArgumentHelp("Most heap one process may hold, e.g. 64M or 2G (default 1G). A process that needs more ends with a heap_limit error.", valueName: "size"))
    var maxHeap: String?

    @Option(name: .long, help: "Most processes alive at once (default 4194304). Spawning past it is a system_limit error of the spawner.")
    var maxProcesses: Int?

    func validate() throws {
        if let workers, workers < 1 || workers > 1024 { throw ValidationError("--workers must be between 1 and 1024") }
        if let maxHeap, ByteSize.parse(maxHeap) == nil { throw ValidationError("--max-heap takes a size such as 65536, 64K, 64M or 2G") }
        if let maxProcesses, maxProcesses < 1 || maxProcesses > 1 << 22 { throw ValidationError("--max-processes must be between 1 and 4194304") }
    }

    func run() throws {
        // A parent (a test runner, a supervisor) may have left signals blocked; a VM that runs
        // servers must stop on SIGTERM and SIGINT like any command.
        var all = sigset_t()
        sigemptyset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
        HostSignals.prepareCommandLine()
        let module: Module
        do { module = try loadModule(program) } catch { fail(error) }
        var options = VM.Options()
        if let workers { options.workers = workers }
        if let maxHeap, let bytes = ByteSize.parse(maxHeap) { options.maxHeapBytes = bytes }
        if let maxProcesses { options.maxProcesses = maxProcesses }
        let vm: VM
        do { vm = try VM(module: module, options: options) } catch { fail(CLIError(message: "\(program): \(error)", code: ExitCodes.invalidProgram)) }
        let status = vm.runMain(arguments: arguments, waitForAll: waitAll)
        let statistics = vm.statistics
        vm.shutdown()
        if stats { FileHandle.standardError.write(Data(StatsReport.text(statistics).utf8)) }
        switch status {
        case .returned: return
        case .failed: Foundation.exit(ExitCodes.runtimeError)  // the report is already on stderr
        case .exited(let reason):
            FileHandle.standardError.write(Data("vm: main exited with reason \(reason)\n".utf8))
            Foundation.exit(ExitCodes.runtimeError)
        case .halted(let code): Foundation.exit(code)
        case .stopped: Foundation.exit(ExitCodes.runtimeError)
        }
    }
}

struct Asm: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Assemble a .ska file into a binary .skb module.")

    @Argument(help: "The assembly file.")
    var source: String

    @Option(name: .shortAndLong, help: "Output file (default: the source name with .skb).")
    var output: String?

    func run() throws {
        let module: Module
        do { module = try loadModule(source) } catch { fail(error) }
        let target = output ?? (source.hasSuffix(".ska") ? String(source.dropLast(4)) : source) + ".skb"
        guard FileManager.default.createFile(atPath: target, contents: Data(BinaryFormat.encode(module))) else {
            fail(CLIError(message: "cannot write \(target)", code: ExitCodes.ioError))
        }
    }
}

struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a program as assembly.",
        discussion: "The output reassembles to the same bytes.")

    @Argument(help: "The program file (.skb or .ska).")
    var program: String

    func run() throws {
        do { print(Disassembler.disassemble(try loadModule(program)), terminator: "") } catch { fail(error) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify a program without running it.")

    @Argument(help: "The program file.")
    var program: String

    func run() throws {
        do {
            let module = try loadModule(program)
            print("\(program): ok (\(module.functions.count) functions, \(module.constants.count) constants)")
        } catch { fail(error) }
    }
}

/// Formats `--stats` output.
enum StatsReport {
    static func text(_ s: Statistics) -> String {
        func row(_ cells: [String]) -> String { cells.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined() + "\n" }
        var out = row(["worker", "slices", "steals", "parks", "wakeups", "sent", "received", "spawned", "next-slot"])
        for (i, w) in s.workers.enumerated() {
            out += row(["\(i)", "\(w.slices)", "\(w.steals)", "\(w.parks)", "\(w.wakeups)", "\(w.messagesSent)",
                        "\(w.messagesReceived)", "\(w.spawned)", "\(w.nextSlotRuns)"])
        }
        out += "wake-ups issued \(s.wakeups), peak processes \(s.peakProcesses), timeouts fired \(s.timeoutsFired), purged \(s.timeoutsPurged), crashes \(s.crashes)\n"
        if let io = s.io {
            out += "io: \(io.operations) operations, \(io.bytesRead) bytes read, \(io.bytesWritten) bytes written, \(io.openHandles) handles open\n"
        }
        return out
    }
}

/// Sizes written with an optional K, M or G suffix (powers of 1024).
enum ByteSize {
    /// The number of bytes `text` names, or nil when it is not a size.
    static func parse(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var unit = 1
        if let last = text.uppercased().last, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard let n = Int(digits), n > 0 else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }
}
