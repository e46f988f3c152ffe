import Foundation
import Synchronization
import Testing
@testable import Skein

/// Collects a VM's output in memory.
final class Capture: Sendable {
    private let text = Locked("")
    var sink: OutputSink { OutputSink { [self] s in text.withLock { $0 += s } } }
    var value: String { text.withLock { $0 } }
}

/// The result of running a program in-process.
struct RunResult {
    var output: String
    var errors: String
    var status: VM.ExitStatus
}

/// Assembles and runs `source` in a fresh VM.
///
/// A run that has not ended after `timeLimit` seconds (a lost wake-up or message leaves a
/// process waiting for ever) records an issue with the output so far, stops the VM's workers
/// and returns `.failed`, instead of hanging the suite. The limit is generous (the suites also
/// run under ThreadSanitizer); it is not a speed assertion.
func runProgram(_ source: String, workers: Int = 1, waitForAll: Bool = false, file: String = "test.ska",
                maxHeapBytes: Int = VM.Options.defaultMaxHeapBytes, maxProcesses: Int = 1 << 22,
                hostFunctions: [String: HostFunction] = [:], timeLimit: Double = 120,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
    let module = try Assembler.assemble(source, file: file)
    let out = Capture(), err = Capture()
    var options = VM.Options(workers: workers, maxProcesses: maxProcesses, maxHeapBytes: maxHeapBytes, output: out.sink, errors: err.sink)
    options.hostFunctions = hostFunctions
    let vm = try VM(module: module, options: options)
    let ended = DispatchSemaphore(value: 0)
    let status = Locked<VM.ExitStatus?>(nil)
    Thread {
        let result = vm.runMain(waitForAll: waitForAll)
        status.withLock { $0 = result }
        ended.signal()
    }.start()
    guard ended.wait(timeout: .now() + timeLimit) == .success else {
        Issue.record("the program did not end within \(Int(timeLimit)) s; output so far: \(out.value)",
                     sourceLocation: sourceLocation)
        vm.shutdown()  // stops the workers; the thread waiting in runMain stays blocked
        return RunResult(output: out.value, errors: err.value, status: .stopped)
    }
    vm.shutdown()
    return RunResult(output: out.value, errors: err.value, status: status.withLock { $0! })
}

extension VM.ExitStatus {
    /// Whether main returned (whatever its value).
    var hasReturned: Bool {
        if case .returned = self { return true }
        return false
    }
}

/// The repository root (tests run from anywhere).
let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("Package.swift not found above \(#filePath)")
}()

/// A small deterministic random generator (SplitMix64) for seeded stress tests.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs a command and returns its stdout, stderr and exit code.
/// With `stdinFile`, the command reads that file as its standard input.
func runCommand(_ executable: String, _ arguments: [String], stdinFile: String? = nil) throws -> (stdout: String, stderr: String, status: Int32) {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let stdinFile { process.standardInput = FileHandle(forReadingAtPath: stdinFile) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently so a full pipe cannot stall the child.
    let errData = Locked(Data())
    let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return (String(decoding: outData, as: UTF8.self), errData.withLock { String(decoding: $0, as: UTF8.self) }, process.terminationStatus)
}

/// Path of the built `vm` executable next to the test bundle.
let vmExecutable: String = {
    let bundle = Bundle(for: BundleLocator.self).bundleURL
    var dir = bundle.deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("vm").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug/vm").path
}()

final class BundleLocator {}

extension Mailbox {
    /// The oldest message, for tests that push plain messages only (no signals).
    func takeMessage() -> MessageNode? {
        var exiting = false
        return takeOldest({ _ in .consumed }, exiting: &exiting)
    }
}
