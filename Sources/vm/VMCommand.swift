import ArgumentParser
import Foundation
import Skein
import Synchronization

/// Exit codes of the `vm` command.
enum ExitCodes {
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

        Exit codes of `vm run`: main's result decides (an integer from 0 to 255 is the status;
        :normal, :ok and nil are 0; anything else is 1 and is printed on stderr), as does `halt`;
        1 runtime error in the program, 2 invalid program, 64 usage error, 74 file error;
        killed by SIGINT or SIGTERM: the shell shows 130 or 143.
        """,
        version: "skein \(VM.version) (bytecode format \(BinaryFormat.version))",
        subcommands: [Run.self, Asm.self, Disasm.self, Check.self]
    )
}

/// Reads a program file (`-`: standard input): text assembly or a binary program, by content,
/// with the modules it imports (`ModuleSearch.forProgram`: the file's directory, `-I`
/// directories, `SKEIN_PATH`, the standard library), verified.
func loadProgram(_ path: String, includes: [String] = []) throws -> Program {
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
    do {
        // The loader takes the bytes, so text that is not UTF-8 is reported with a position.
        return try Program.load(bytes: [UInt8](data), name: path == "-" ? "<stdin>" : path,
                                search: ModuleSearch.forProgram(at: path, including: includes))
    } catch let error as AssemblyError {
        throw CLIError(message: error.description, code: ExitCodes.invalidProgram)
    } catch {
        throw CLIError(message: "\(path): \(error)", code: ExitCodes.invalidProgram)
    }
}

/// The `-I`/`--path` option of the commands that load programs.
struct ModulePathOptions: ParsableArguments {
    @Option(name: [.customShort("I"), .customLong("path")],
            help: ArgumentHelp("A directory to look for imported modules in (NAME.ska or NAME.skb), after the program's own directory and before SKEIN_PATH and the standard library (repeatable).", valueName: "dir"))
    var directories: [String] = []
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

    @OptionGroup var modulePath: ModulePathOptions

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to the program's main/1.")
    var arguments: [String] = []

    @Option(name: .long, help: "Worker threads (default: the number of cores). At most one per core runs processes at once; the others stand in for workers blocked in host functions.")
    var workers: Int?

    @Flag(name: .long, help: "Wait for every process to end, not just main.")
    var waitAll = false

    @Flag(name: .long, help: "Print scheduler statistics on stderr at the end.")
    var stats = false

    @Option(name: .long, help: ArgumentHelp("Most heap one process may hold, e.g. 64M or 2G (default 1G). A process that needs more ends with a heap_limit error.", valueName: "size"))
    var maxHeap: String?

    @Option(name: .long, help: "Most processes alive at once (default 4194304). Spawning past it is a system_limit error of the spawner.")
    var maxProcesses: Int?

    @Option(name: .long, help: ArgumentHelp("Most heap memory all processes may hold together, e.g. 512M. A process whose growth would pass it ends with a memory_limit error.", valueName: "size"))
    var maxMemory: String?

    @Option(name: .long, help: ArgumentHelp("Stop the run after this many seconds (exit status 1).", valueName: "seconds"))
    var timeLimit: Double?

    @Option(name: .long, help: ArgumentHelp("Stop the run after this many reductions, all processes together (exit status 1).", valueName: "count"))
    var maxReductions: Int?

    @Flag(name: .long, help: "Run untrusted code: no files, no network, no stdin, except what --allow-read, --network and --allow-stdin give back. A refused operation is an {:error, :EACCES, reason} value of the process.")
    var sandbox = false

    @Option(name: .long, help: ArgumentHelp("Allow reading files under this directory only (repeatable).", valueName: "dir"))
    var allowRead: [String] = []

    @Option(name: .long, help: ArgumentHelp("Network access: none, connect, listen or all (default all, or none with --sandbox).", valueName: "access"))
    var network: String?

    @Flag(name: .long, help: "With --sandbox: allow reading standard input.")
    var allowStdin = false

    func validate() throws {
        if let workers, workers < 1 || workers > 1024 { throw ValidationError("--workers must be between 1 and 1024") }
        if let maxHeap, ByteSize.parse(maxHeap) == nil { throw ValidationError("--max-heap takes a size such as 65536, 64K, 64M or 2G") }
        if let maxProcesses, maxProcesses < 1 || maxProcesses > 1 << 22 { throw ValidationError("--max-processes must be between 1 and 4194304") }
        if let maxMemory, ByteSize.parse(maxMemory) == nil { throw ValidationError("--max-memory takes a size such as 512M or 2G") }
        if let timeLimit, !(timeLimit > 0) { throw ValidationError("--time-limit takes a positive number of seconds") }
        if let maxReductions, maxReductions < 1 { throw ValidationError("--max-reductions takes a positive count") }
        if let network, Self.networkAccess[network] == nil { throw ValidationError("--network takes none, connect, listen or all") }
        for directory in allowRead {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--allow-read \(directory): no such directory")
            }
        }
    }

    /// `--network` values.
    static let networkAccess: [String: Capabilities.Network] = ["none": .none, "connect": .connect, "listen": .listen, "all": .all]

    /// The sandbox the flags describe.
    var capabilities: Capabilities {
        var granted = sandbox ? Capabilities.none : Capabilities.all
        if !allowRead.isEmpty { granted.files = .readOnly(under: allowRead) }
        if let network, let access = Self.networkAccess[network] { granted.network = access }
        if allowStdin { granted.stdin = true }
        return granted
    }

    func run() throws {
        // A parent (a test runner, a supervisor) may have left signals blocked; a VM that runs
        // servers must stop on SIGTERM and SIGINT like any command.
        var all = sigset_t()
        sigemptyset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
        HostSignals.prepareCommandLine()
        let loaded: Program
        do { loaded = try loadProgram(program, includes: modulePath.directories) } catch { fail(error) }
        var options = VM.Options()
        if let workers { options.workers = workers }
        if let maxHeap, let bytes = ByteSize.parse(maxHeap) { options.maxHeapBytes = bytes }
        if let maxProcesses { options.maxProcesses = maxProcesses }
        if let maxMemory { options.maxMemoryBytes = ByteSize.parse(maxMemory) }
        if let timeLimit { options.deadline = .milliseconds(Int64(timeLimit * 1000)) }
        options.maxReductions = maxReductions
        options.capabilities = capabilities
        let vm: VM
        do { vm = try VM(program: loaded, options: options) } catch { fail(CLIError(message: "\(program): \(error)", code: ExitCodes.invalidProgram)) }
        let started = ContinuousClock.now
        Termination.watch(vm)
        let status = vm.runMain(arguments: arguments, waitForAll: waitAll)
        let statistics = vm.statistics
        vm.shutdown()
        Termination.forget()  // the VM is freed with this scope (LeakSanitizer checks it is)
        if stats { FileHandle.standardError.write(Data(StatsReport.text(statistics, wallTime: ContinuousClock.now - started).utf8)) }
        if let signal = Termination.signal { HostSignals.die(of: signal) }
        switch status {
        case .returned(.int(let n)) where !(0...255).contains(n):
            FileHandle.standardError.write(Data("vm: main returned \(n), which is not an exit status (0 to 255)\n".utf8))
        case .returned(.int), .returned(.atom("normal")), .returned(.atom("ok")), .returned(.nil), .halted, .stopped:
            break
        case .returned(let value):
            FileHandle.standardError.write(Data("vm: main returned \(value)\n".utf8))
        case .failed:
            break  // the report, with its stack trace, is already on stderr
        case .exited(let reason):
            FileHandle.standardError.write(Data("vm: main exited with reason \(reason)\n".utf8))
        case .limitReached(let limit):
            FileHandle.standardError.write(Data("vm: stopped: \(limit)\n".utf8))
        }
        // A successful run returns normally, so the command's locals are released (a VM built
        // with LeakSanitizer, `make check-leaks`, checks that nothing leaks); exit() does not
        // unwind them.
        let code = status.commandStatus
        if code != 0 { Foundation.exit(code) }
    }
}

struct Asm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Assemble a .ska file into a binary .skb program.",
        discussion: "The binary holds the file's module and every module it imports (from the same places vm run looks), so it runs anywhere.")

    @Argument(help: "The assembly file.")
    var source: String

    @Option(name: .shortAndLong, help: "Output file (default: the source name with .skb).")
    var output: String?

    @OptionGroup var modulePath: ModulePathOptions

    func run() throws {
        let program: Program
        do { program = try loadProgram(source, includes: modulePath.directories) } catch { fail(error) }
        let target = output ?? (source.hasSuffix(".ska") ? String(source.dropLast(4)) : source) + ".skb"
        guard FileManager.default.createFile(atPath: target, contents: Data(BinaryFormat.encode(program))) else {
            fail(CLIError(message: "cannot write \(target)", code: ExitCodes.ioError))
        }
    }
}

struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a program as assembly.",
        discussion: """
        A program of several modules prints each after a line ';; ---- module NAME'; with \
        --output-directory each goes to a file of its own (NAME.ska, main.ska for the entry), and \
        'vm asm DIR/ENTRY.ska -I DIR' makes the same bytes again.
        """)

    @Argument(help: "The program file (.skb or .ska).")
    var program: String

    @Option(name: .long, help: ArgumentHelp("Write each module to a file in this directory instead of printing.", valueName: "dir"))
    var outputDirectory: String?

    @OptionGroup var modulePath: ModulePathOptions

    func run() throws {
        do {
            let loaded = try loadProgram(program, includes: modulePath.directories)
            let texts = Disassembler.disassemble(loaded)
            guard let outputDirectory else {
                for (module, text) in zip(loaded.modules, texts) {
                    if loaded.modules.count > 1 { print(";; ---- module \(module.name ?? "(main program)")") }
                    print(text, terminator: "")
                }
                return
            }
            for (module, text) in zip(loaded.modules, texts) {
                let path = (outputDirectory as NSString).appendingPathComponent("\(module.name ?? "main").ska")
                guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                    throw CLIError(message: "cannot write \(path)", code: ExitCodes.ioError)
                }
            }
        } catch { fail(error) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify a program, with the modules it imports, without running it.")

    @Argument(help: "The program file.")
    var program: String

    @OptionGroup var modulePath: ModulePathOptions

    func run() throws {
        do {
            let loaded = try loadProgram(program, includes: modulePath.directories)
            let functions = loaded.modules.reduce(0) { $0 + $1.functions.count }, constants = loaded.modules.reduce(0) { $0 + $1.constants.count }
            let modules = loaded.modules.count > 1 ? " in \(loaded.modules.count) modules" : ""
            print("\(program): ok (\(functions) functions, \(constants) constants\(modules))")
        } catch { fail(error) }
    }
}

/// How `vm run` stops on SIGINT, SIGTERM or SIGHUP: the signal thread shuts the VM down (every
/// process ends, `runMain` returns), and the main thread prints `--stats` if asked, flushes
/// what was printed and ends by the same signal, so the shell shows 130 or 143.
enum Termination {
    /// The VM to stop.
    private static let target = Mutex<VM?>(nil)
    /// The signal that arrived (0: none).
    private static let received = Atomic<Int32>(0)

    /// The signal that stopped the run, if one did.
    static var signal: Int32? {
        let signal = received.load(ordering: .acquiring)
        return signal == 0 ? nil : signal
    }

    /// From now on a termination signal stops `vm`.
    static func watch(_ vm: VM) {
        target.withLock { $0 = vm }
        HostSignals.onTermination { signal in Termination.stop(signal) ? 1 : 0 }
    }

    /// The run is over: a signal from now on ends the command the default way.
    static func forget() {
        target.withLock { $0 = nil }
    }

    /// On the signal thread: records `signal` and shuts the VM down. False when there is no VM
    /// yet (the default ending then applies).
    private static func stop(_ signal: Int32) -> Bool {
        guard let vm = target.withLock({ $0 }) else { return false }
        received.store(signal, ordering: .releasing)
        vm.shutdown()
        return true
    }
}

/// Formats `--stats` output: the run as a whole in words, then one row per worker.
enum StatsReport {
    static func text(_ s: Statistics, wallTime: Duration) -> String {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime)
        let wall = Double(wallTime.components.seconds) + Double(wallTime.components.attoseconds) / 1e18
        let peakMegabytes = Double(usage.ru_maxrss) / 1024  // Linux reports kilobytes
        var out = String(format: "time: %.3f s of wall-clock time, %.3f s of CPU time (%.1f cores busy on average)\n",
                         wall, cpu, wall > 0 ? cpu / wall : 0)
        out += String(format: "memory: %.1f MB at the peak (resident set size of the whole vm process)\n", peakMegabytes)
        let sent = s.workers.reduce(0) { $0 + $1.messagesSent }, spawned = s.workers.reduce(0) { $0 + $1.spawned }
        out += "processes: \(spawned) spawned by processes, at most \(s.peakProcesses) alive at once, \(s.crashes) ended with an error\n"
        out += "messages: \(sent) sent; timeouts: \(s.timeoutsFired) fired, \(s.timeoutsPurged) cancelled entries purged\n"
        if let io = s.io {
            out += "io: \(io.operations) operations, \(io.bytesRead) bytes read, \(io.bytesWritten) bytes written, \(io.openHandles) handles still open\n"
        }
        out += "workers (slices: process turns run; steals: turns taken from another worker's queue; parks: times idle;\n"
        out += "         next-slot: turns run from the slot that gives a woken receiver the sender's core):\n"
        func row(_ cells: [String]) -> String { cells.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined() + "\n" }
        out += row(["worker", "slices", "steals", "parks", "wakeups", "sent", "received", "spawned", "next-slot"])
        for (i, w) in s.workers.enumerated() {
            out += row(["\(i)", "\(w.slices)", "\(w.steals)", "\(w.parks)", "\(w.wakeups)", "\(w.messagesSent)",
                        "\(w.messagesReceived)", "\(w.spawned)", "\(w.nextSlotRuns)"])
        }
        out += "wake-ups issued to parked workers: \(s.wakeups)\n"
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
