import Foundation
import Testing
@testable import Skein

@Suite struct BinaryFormatTests {
    static let sample = """
    func fib/1
        jlt r0, 2, base
        sub r1, r0, 1
        call r1, fib, r1
        sub r2, r0, 2
        call r2, fib, r2
        add r0, r1, r2
    base:
        ret r0
    end
    func main/0
        load r0, 10
        call r1, fib, r0
        load r2, {:ok, "fib", 1.5}
        tuple r3, r1, 2
        print r3
        ret r1
    end
    """

    /// The checksum is CRC-32 (IEEE): the standard check value, and the byte-at-a-time definition
    /// on every length around the eight-byte steps, for contiguous and non-contiguous input.
    @Test func checksumIsCRC32() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        func reference(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                crc ^= UInt32(b)
                for _ in 0..<8 { crc = crc & 1 != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
            }
            return crc ^ 0xFFFF_FFFF
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0..<40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(CRC32.checksum(bytes) == reference(bytes), "length \(length)")
            #expect(CRC32.checksum(bytes.lazy.map { $0 }) == reference(bytes), "length \(length), not contiguous")
        }
    }

    @Test func encodesAndDecodes() throws {
        let module = try Assembler.assemble(Self.sample, file: "fib.ska")
        let decoded = try BinaryFormat.decode(BinaryFormat.encode(module))
        #expect(decoded == module)
    }

    @Test func everyTruncationIsAClearError() throws {
        let bytes = BinaryFormat.encode(try Assembler.assemble(Self.sample, file: "fib.ska"))
        for length in 0..<bytes.count {
            do {
                _ = try BinaryFormat.decode(Array(bytes[0..<length]))
                Issue.record("truncated to \(length) bytes but decoded")
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test func corruptedBytesFailTheChecksum() throws {
        let bytes = BinaryFormat.encode(try Assembler.assemble(Self.sample, file: "fib.ska"))
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            var copy = bytes
            let i = Int.random(in: BinaryFormat.headerSize..<copy.count, using: &random)
            copy[i] ^= UInt8.random(in: 1...255, using: &random)
            #expect(throws: LoadError.self) { try BinaryFormat.decode(copy) }
        }
    }

    /// Hostile files: random mutations of the payload with a *valid* checksum, so they reach the
    /// decoder's structure checks and the verifier. Each one is either rejected with a message,
    /// or accepted and then run by the real `vm` in a child process (one worker, a 64 MiB heap
    /// limit, 10,000 processes at most, killed after 0.3 s), where it must end by itself with 0
    /// or a runtime error (1) (any status if it can `halt`, which chooses its own), or still be
    /// running at the time limit (a mutant may loop forever): a signal means the VM crashed on
    /// a module the verifier let through. Mutants that use IO or host functions are not run,
    /// since they could touch files, sockets or stdin. (Seed 2026, the examples before modules:
    /// 3,731 rejected, 220 run, of which some 180 end by themselves within the limit, 49 not
    /// run.) Programs of several modules are among the inputs: a mutant is completed with the
    /// standard library and verified as `vm run` would.
    @Test(.timeLimit(.minutes(3))) func hostileMutationsAreRejectedOrSafe() throws {
        // Each example assembled and encoded once (assembling it again every round took most of
        // the test's time).
        // … and programs of several modules: the inventory example linked with the standard
        // library modules it imports, and every standard library module beside a main program.
        let inventory = repositoryRoot.appendingPathComponent("vm-examples/inventory/main.ska").path
        let programs = [
            try Program.load(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: inventory))), name: inventory,
                             search: .forProgram(at: inventory, environment: [:])),
            Program([try Assembler.assemble(Self.sample, file: "m.ska")] + StandardLibrary.moduleNames.map { StandardLibrary.module(named: $0)! }),
        ]
        let payloads = try ([Self.sample] + Self.exampleSources()).map { source in
            Array(BinaryFormat.encode(try Assembler.assemble(source, file: "m.ska"))[BinaryFormat.headerSize...])
        } + programs.map { Array(BinaryFormat.encode($0)[BinaryFormat.headerSize...]) }
        var random = SeededRandom(seed: 2026)
        var rejected = 0, notRun = 0
        var accepted: [(round: Int, bytes: [UInt8])] = []
        for round in 0..<4000 {
            var payload = payloads[round % payloads.count]
            let mutations = Int.random(in: 1...4, using: &random)
            for _ in 0..<mutations {
                let i = Int.random(in: 0..<payload.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: payload[i] = UInt8.random(in: 0...255, using: &random)
                case 1: payload[i] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                default: payload.remove(at: i)
                }
            }
            let bytes = Self.withHeader(payload)
            do {
                // As `vm run` loads it: the standard library fills in what the file lacks.
                let mutant = ModuleSearch.standardLibraryOnly.completeFromStandardLibrary(try BinaryFormat.decodeProgram(bytes))
                try Verifier.verify(mutant)
                if mutant.modules.contains(where: { Self.uses($0, [.io, .callhost]) }) {
                    notRun += 1
                } else {
                    accepted.append((round, bytes))
                }
            } catch {
                #expect(!error.description.isEmpty)
                rejected += 1
            }
        }
        // Run the accepted mutants, two children at a time (one per core).
        let lanes = 2
        let endings = Locked<[(round: Int, ending: ChildRun.Ending)]>([])
        let mutants = accepted
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            let file = FileManager.default.temporaryDirectory
                .appendingPathComponent("skein-mutant-\(getpid())-\(lane)-\(UUID().uuidString).skb")
            defer { try? FileManager.default.removeItem(at: file) }
            for (round, bytes) in stride(from: lane, to: mutants.count, by: lanes).map({ mutants[$0] }) {
                do {
                    try Data(bytes).write(to: file)
                    let run = try ChildRun.run(vmExecutable, ["run", "--workers", "1", "--max-heap", "64M",
                                                              "--max-processes", "10000", file.path], timeLimit: 0.3)
                    endings.withLock { $0.append((round, run.ending)) }
                } catch {
                    Issue.record("round \(round): could not run the mutant: \(error)")
                }
            }
        }
        var endedByItself = 0
        for (round, ending) in endings.withLock({ $0 }) {
            switch ending {
            case .exited: endedByItself += 1  // main's result or `halt` may give any status
            case .timedOut: break
            case .signaled(let signal): Issue.record("round \(round): the vm crashed with signal \(signal)")
            }
        }
        // Both paths were exercised: the checks rejected mutants, and mutants they accepted ran.
        #expect(rejected > 0)
        #expect(endings.withLock { $0.count } == mutants.count)
        #expect(endedByItself > 0, "\(mutants.count) mutants run, none ended by itself")
    }

    /// Whether `module` has any of `opcodes` (or code that does not decode).
    static func uses(_ module: Module, _ opcodes: Set<Opcode>) -> Bool {
        module.functions.contains { f in
            var decoder = InstructionDecoder(f.code)
            do {
                while let instruction = try decoder.next() {
                    if opcodes.contains(instruction.opcode) { return true }
                }
                return false
            } catch {
                return true
            }
        }
    }

    @Test func verifierNamesTheProblem() throws {
        var module = try Assembler.assemble(Self.sample, file: "fib.ska")
        // A register beyond the frame.
        module.functions[0].code[0] = Instruction.encode(.jlti, [200, 2, 7]).word
        #expect(throws: LoadError.self) { try Verifier.verify(module) }
        do { try Verifier.verify(module) } catch {
            #expect(error.description.contains("register r200 out of range"))
            #expect(error.description.contains("fib/1"))
        }
        // A jump into the middle of nowhere.
        module = try Assembler.assemble(Self.sample, file: "fib.ska")
        module.functions[0].code[0] = Instruction.encode(.jlti, [0, 2, 99]).word
        do { try Verifier.verify(module); Issue.record("accepted") } catch {
            #expect(error.description.contains("jump target 99"))
        }
        // A call with the wrong arity cannot be expressed; a constant index out of range can.
        module = try Assembler.assemble(Self.sample, file: "fib.ska")
        module.functions[1].code[0] = Instruction.encode(.loadk, [0, 999]).word
        do { try Verifier.verify(module); Issue.record("accepted") } catch {
            #expect(error.description.contains("constant index 999"))
        }
        // Falling off the end.
        module = try Assembler.assemble(Self.sample, file: "fib.ska")
        module.functions[1].code.removeLast()
        do { try Verifier.verify(module); Issue.record("accepted") } catch {
            #expect(error.description.contains("fall off the end"))
        }
    }

    static func withHeader(_ payload: [UInt8]) -> [UInt8] {
        var header = BinaryFormat.magic
        header += [UInt8(BinaryFormat.version & 0xFF), UInt8(BinaryFormat.version >> 8), 0, 0]
        let n = UInt32(payload.count), c = CRC32.checksum(payload)
        for v in [n, c] { for k in 0..<4 { header.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        return header + payload
    }

    static func exampleSources() -> [String] {
        let dir = repositoryRoot.appendingPathComponent("vm-examples")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".ska") }.sorted().compactMap {
            try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)
        }.filter { (try? Assembler.assemble($0, file: "x")) != nil }
    }
}
