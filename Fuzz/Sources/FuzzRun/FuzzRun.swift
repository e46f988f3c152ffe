import FuzzSupport
import Glibc
import Skein

/// Work allowed per input, in scheduler slices of at most `Worker.sliceBudget` (2000)
/// reductions each: about a million reductions, a few milliseconds of interpretation.
let maxSlices = 500
/// Wall time allowed per input, for programs that wait (receive, sleep) instead of working.
/// The VM has no reduction budget for a run yet, so this is what bounds a deadlocked program.
let maxWait = Duration.milliseconds(100)
/// Enough processes for every example; a spawn bomb meets the limit quickly.
let maxProcesses = 1000

/// A sink that drops everything: printed values and crash reports of the fuzzed program.
let discard = OutputSink { _ in }

/// libFuzzer entry point: a verified module (binary, re-signed, or assembly text) run on a
/// one-worker VM for a bounded amount of work.
///
/// `main` is spawned from the host, and the VM is shut down when every process has ended, or
/// after `maxSlices` slices, or after `maxWait`, whichever comes first. A program's
/// runtime errors are its own business (they end its process); only a crash of the VM counts.
/// Modules that use `io` are skipped: a fuzzed program must not write files or open sockets on
/// the fuzzing machine (the IO layer has its own hostile-client tests).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRun(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let module = FuzzInput.verifiedModule(Array(UnsafeBufferPointer(start: data, count: size))),
          !FuzzInput.module(module, uses: .io) else { return 0 }
    let options = VM.Options(workers: 1, maxProcesses: maxProcesses, output: discard, errors: discard)
    guard let vm = try? VM(module: module, options: options) else { return 0 }
    defer { vm.shutdown() }
    guard (try? vm.spawn("main")) != nil else { return 0 }
    let deadline = ContinuousClock.now + maxWait
    while ContinuousClock.now < deadline {
        let statistics = vm.statistics
        if statistics.liveProcesses == 0 || statistics.workers[0].slices >= maxSlices { break }
        usleep(200)
    }
    return 0
}
