/// Every instruction of the Skein virtual machine.
///
/// The table below is the single source of truth for operand shapes: the assembler parses,
/// the verifier checks and the disassembler prints from it. Semantics are documented in
/// `docs/assembly.md` and `docs/instruction-set.md`.
public enum Opcode: UInt8, CaseIterable, Sendable {
    // Moving and loading
    case nop = 0, move, loadk, loadi
    // Arithmetic (register and immediate forms)
    case add, sub, mul, div, rem
    case addi, subi, muli, divi, remi
    case neg
    // Comparison and logic
    case eq, ne, lt, le, gt, ge, not
    // Conversions
    case tofloat, toint, typeof, tostr
    // Branches
    case jmp, jt, jf
    case jeq, jne, jlt, jle, jgt, jge
    case jeqi, jnei, jlti, jlei, jgti, jgei
    case jeqk, jnek
    // Calls
    case call, callr, tailcall, tailcallr, ret
    // Tuples, arrays, strings
    case tuple, array, len, get, geti, set, seti, push, pop, concat
    // Output, errors, clock
    case print, raise, now
    // Processes
    case spawn, spawnr, `self`, send
    case recv, recvt, recvti, recvtag, recvtagt, recvtagti
    case makeref, sleep, sleepi
    // Host functions (registered by the embedding program)
    case callhost
    // Asynchronous IO on the IO thread (libuv)
    case io
    // Links, monitors, exit signals (docs/processes.md)
    case link, unlink, monitor, demonitor
    case spawnlink, spawnlinkr, spawnmon, spawnmonr
    case trapexit, exit, exitto
    // Catching errors
    case `try`, endtry
    // The registry of process names
    case register, unregister, whereis
    // General selective receive: look at messages one by one without taking them
    case peek, recvnext, take, recvwait, recvwaitt, recvwaitti, recvmark
    // Bit operations on the 64-bit two's complement form of integers
    case band, bor, bxor, shl, shr, ushr
    case bandi, bori, bxori, shli, shri, ushri
    case bnot
    // Process flags
    case maxheap
    // The program's environment: environment variables, ending the whole run
    case getenv, halt
    // Immutable maps (docs/assembly.md, "Maps")
    case mapnew, mapput, mapget, mapgetj, mapdel, maphas, mapkeys, mappairs
    // Loop back-edges: `addi rA, rA, imm` and `jlt`/`jle rA, rC, L` in one instruction, which the
    // assembler emits for that pair (docs/interpreter.md: one dispatch less per loop iteration)
    case addjlt, addjle
    // String and binary operations, named by an atom resolved at load (`StringOperationKind`)
    case str

    /// The canonical mnemonic, as the disassembler prints it.
    public var mnemonic: String { Opcode.mnemonicTable[Int(rawValue)] }

    /// `mnemonic` of every opcode, by raw value (`String(describing:)` goes through reflection).
    private static let mnemonicTable: [String] = allCases.map(\.spelledMnemonic)

    private var spelledMnemonic: String {
        switch self {
        case .self: "self"
        case .try: "try"
        default: String(describing: self)
        }
    }

    /// The friendly mnemonic the assembler also accepts for this form (`add` for `addi`, `load`
    /// for `loadk`/`loadi`); the assembler picks the form whose operands match.
    public var family: String {
        switch self {
        case .loadk, .loadi: "load"
        case .addi: "add"
        case .subi: "sub"
        case .muli: "mul"
        case .divi: "div"
        case .remi: "rem"
        case .bandi: "band"
        case .bori: "bor"
        case .bxori: "bxor"
        case .shli: "shl"
        case .shri: "shr"
        case .ushri: "ushr"
        case .jeqi, .jeqk: "jeq"
        case .jnei, .jnek: "jne"
        case .jlti: "jlt"
        case .jlei: "jle"
        case .jgti: "jgt"
        case .jgei: "jge"
        case .geti: "get"
        case .seti: "set"
        case .recvt, .recvti: "recv"
        case .recvtagt, .recvtagti: "recvtag"
        case .sleepi: "sleep"
        case .spawnlinkr: "spawnlink"
        case .spawnmonr: "spawnmon"
        case .exitto: "exit"
        case .recvwaitt, .recvwaitti: "recvwait"
        case .mapgetj: "mapget"
        default: mnemonic
        }
    }

    /// Operands in the order they are written in assembly.
    public var operands: OperandList { Opcode.operandTable[Int(rawValue)] }

    /// `operands` of every opcode, by raw value: computed once, so that the assembler and the
    /// decoder, which ask for every instruction, do not go through the switch each time.
    private static let operandTable: [OperandList] = allCases.map(\.operandsByShape)

    private var operandsByShape: OperandList {
        func op(_ kind: OperandKind, _ field: OperandField) -> OperandSpec { OperandSpec(kind: kind, field: field) }
        let rA = op(.register, .a), rB = op(.register, .b), rC = op(.register, .c)
        switch self {
        case .nop, .endtry, .recvnext, .take, .recvmark: return []
        case .move, .neg, .not, .tofloat, .toint, .typeof, .tostr, .len, .push, .pop, .send, .recvtag,
             .monitor, .exitto, .unregister, .whereis, .getenv, .mapkeys, .mappairs:
            return [rA, rB]
        case .link, .unlink, .demonitor, .trapexit, .exit, .maxheap, .halt, .mapnew: return [rA]
        case .register: return [rA, rB, rC]
        case .try, .peek: return [rA, op(.label, .t)]
        case .recvwait: return [op(.label, .t)]
        case .recvwaitt: return [op(.label, .t), rA, op(.label, .x)]
        case .recvwaitti: return [op(.label, .t), op(.immediate, .a), op(.label, .x)]
        case .loadk: return [rA, op(.constant, .bx)]
        case .loadi: return [rA, op(.immediate, .bx)]
        case .add, .sub, .mul, .div, .rem, .eq, .ne, .lt, .le, .gt, .ge, .get, .set, .concat,
             .mapput, .mapget, .mapdel, .maphas:
            return [rA, rB, rC]
        case .addi, .subi, .muli, .divi, .remi, .geti, .bandi, .bori, .bxori, .shli, .shri, .ushri:
            return [rA, rB, op(.immediate, .c)]
        case .band, .bor, .bxor, .shl, .shr, .ushr: return [rA, rB, rC]
        case .bnot: return [rA, rB]
        case .seti: return [rA, op(.immediate, .b), rC]
        case .jmp: return [op(.label, .t)]
        case .jt, .jf: return [rA, op(.label, .t)]
        case .jeq, .jne, .jlt, .jle, .jgt, .jge, .recvt: return [rA, rB, op(.label, .t)]
        case .jeqi, .jnei, .jlti, .jlei, .jgti, .jgei, .recvti: return [rA, op(.immediate, .b), op(.label, .t)]
        case .jeqk, .jnek: return [rA, op(.constant, .b), op(.label, .t)]
        case .call, .spawn, .spawnlink, .spawnmon: return [rA, op(.function, .b), rC]
        case .callr, .spawnr, .spawnlinkr, .spawnmonr: return [rA, rB, rC, op(.count, .d)]
        case .callhost, .io, .str: return [rA, op(.constant, .b), rC, op(.count, .d)]
        case .tailcall: return [op(.function, .b), rC]
        case .tailcallr: return [rA, rC, op(.count, .d)]
        case .ret, .print, .raise, .now, .self, .recv, .makeref, .sleep: return [rA]
        case .tuple, .array: return [rA, rB, op(.count, .c)]
        case .recvtagt, .mapgetj: return [rA, rB, rC, op(.label, .x)]
        case .recvtagti: return [rA, rB, op(.immediate, .c), op(.label, .x)]
        case .addjlt, .addjle: return [rA, op(.immediate, .b), rC, op(.label, .x)]
        case .sleepi: return [op(.immediate, .bx)]
        }
    }

    /// Code words the instruction occupies (1, or 2 when it has an extension word).
    public var wordCount: Int {
        switch self {
        case .recvtagt, .recvtagti, .recvwaitt, .recvwaitti, .mapgetj, .addjlt, .addjle: 2
        default: 1
        }
    }

    /// Whether execution never continues with the next instruction.
    public var isTerminator: Bool {
        switch self {
        case .ret, .tailcall, .tailcallr, .jmp, .raise, .exit, .halt, .recvwait, .recvwaitt, .recvwaitti: true
        default: false
        }
    }

    /// For instructions that read a run of consecutive registers: which operand holds the first
    /// register and which holds the count (`nil` count means the callee's arity).
    var registerRun: (start: Int, count: Int?)? {
        switch self {
        case .call, .spawn, .spawnlink, .spawnmon: (2, nil)
        case .tailcall: (1, nil)
        case .callr, .spawnr, .spawnlinkr, .spawnmonr: (2, 3)
        case .tailcallr: (1, 2)
        case .tuple, .array: (1, 2)
        case .callhost, .io, .str: (2, 3)
        default: nil
        }
    }

    /// The loop back-edge that fuses the instruction `first` with the following `branch`, if
    /// they are `addi rA, rA, imm` and `jlt`/`jle rA, rC, L` with rC not rA: the assembler emits
    /// the fused form for such a pair (with no label on the branch), and the disassembler puts a
    /// label on a branch it must keep apart. Both words keep their operand fields, so the fused
    /// instruction takes the two words the pair took.
    static func fusedBackEdge(_ first: UInt64, _ branch: UInt64) -> Opcode? {
        guard first.opcodeIs(.addi), first.fieldA == first.fieldB, branch.fieldA == first.fieldA, branch.fieldB != first.fieldA else {
            return nil
        }
        if branch.opcodeIs(.jlt) { return .addjlt }
        if branch.opcodeIs(.jle) { return .addjle }
        return nil
    }
}
