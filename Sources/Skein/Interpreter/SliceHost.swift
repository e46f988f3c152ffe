/// Everything a running slice needs from outside its own process: the one seam between the
/// interpreter and the runtime.
///
/// The interpreter owns the process it runs (registers, heap, frames, the private part of its
/// mailbox) and asks this interface for everything else: starting processes, sending messages
/// and signals, output, host functions, the registry and reference numbers. It never names
/// `Runtime`, `Worker` or the scheduler, so the dependency points one way (runtime →
/// interpreter → host interface), and a test can run the interpreter against a host of its own.
///
/// `Interpreter` is generic over its host rather than holding an existential, so every call
/// here is a direct (usually inlined) call after specialisation: the message path pays no
/// dynamic dispatch and no reference counting.
protocol SliceHost {
    /// The VM's atom table (printing, ordering atoms by name, IO results).
    var atoms: AtomTable { get }
    /// The printed form of values (`print`, `tostr`, error reports).
    var printer: Printer { get }

    /// The VM's heap limit per process, in words (a process may only lower its own).
    var heapLimitWords: Int { get }

    /// What IO the VM's programs may do (the sandbox).
    var capabilities: Capabilities { get }

    /// Writes program output (one whole line per call).
    func writeOutput(_ text: String)

    /// Starts a process running `function(arguments…)` with the given links and monitors set
    /// up before it can run. Throws a `Fault` (the spawner's error) at the process limit.
    func spawn(_ function: Int, arguments: UnsafeBufferPointer<UInt64>, options: SpawnOptions) throws(Fault) -> SpawnResult

    /// Sends a copy of `message` to `target` (a pid or a registered name).
    func send(_ message: Value, to target: Value) throws(Fault)

    /// Sends a signal (link, unlink, monitor, demonitor, exit) from the running process.
    func signal(_ signal: Signal, to pid: UInt64)

    /// Ends the whole run with exit status `status` (an integer 0…255): `runMain` returns
    /// `.halted`. The calling process ends with `:normal` after this.
    func halt(status: Value) throws(Fault)

    /// A fresh unique reference number.
    func makeReference() -> UInt64

    /// The host function bound to the `callhost` whose name is constant `index`.
    func hostFunction(_ index: Int) -> HostFunction?

    /// Called before something that may block the worker (a host function): lets other
    /// workers take the work queued behind this process, and a standing-by worker run while
    /// this one is blocked.
    func willBlock()

    /// Called when what `willBlock` announced is over.
    func didUnblock()

    /// Frees a message node once its value has been copied out (recycled on this worker).
    func recycle(_ node: MessageNode)

    /// Counts a message taken by a receive (statistics).
    func countReceived()

    /// Acts on a signal the running process's mailbox met (runner side of `Signal`).
    func handleSignal(_ node: MessageNode) -> Mailbox.SignalOutcome

    /// Registers `name` (an atom id) for `pid`.
    func register(_ name: Int, _ pid: UInt64) -> Registration
    /// Removes `name`: false when it was not registered.
    func unregister(_ name: Int) -> Bool
    /// The pid registered as `name`.
    func whereis(_ name: Int) -> UInt64?
}

/// How a `register` went.
enum Registration {
    case registered
    /// Another process has the name.
    case nameTaken
    /// The process already has a name.
    case alreadyNamed
    /// The process is not alive.
    case noProcess
}

/// Links and monitors a new process gets before it can run (`spawnlink`, `spawnmon`).
struct SpawnOptions {
    /// Link the new process with its parent.
    var link = false
    /// Monitor the new process from its parent.
    var monitor = false
}

/// What a spawn produced.
struct SpawnResult {
    /// The new process.
    var pid: UInt64
    /// The monitor reference, with `SpawnOptions.monitor`.
    var monitor: UInt64?
}
