/// Turns Skein assembly text into a `Module`.
///
/// Two passes over the lines: the first finds every function's name and arity and every named
/// constant (it tokenises only the lines that start with `func` or `const`), so code may refer to
/// functions defined later; the second encodes instructions, pooling constants and atoms in
/// order of first use (which is what makes `disasm` → `asm` reproduce the same bytes). Both work
/// on the UTF-8 bytes, one line at a time, so assembling is linear in the size of the text. Names
/// are `Symbol`s (interned by the lexer), looked up in arrays indexed by symbol; a `String` is
/// made only for what the module keeps (function names, atoms, strings) and for messages.
///
/// The assembler refuses everything the verifier would refuse, each with file, line and column,
/// and keeps going after an error to report several at once (up to `maxDiagnostics`).
public struct Assembler {
    /// A literal as written, before atoms and functions are turned into indices. Tuples nest at
    /// most `BinaryFormat.maxConstantDepth` deep, so walking one recurses a bounded amount.
    ///
    /// Two literals are equal exactly when the constants they become are (floats by bit pattern,
    /// texts and names by symbol, tuples by `TupleID`, which is given by elements), so the constant
    /// pool is keyed by literal. A plain value: operands holding literals cost no reference count.
    enum Literal: Hashable {
        case `nil`, bool(Bool), int(Int64), float(bitPattern: UInt64), string(Symbol), binary(Symbol), atom(Symbol)
        /// `@name` (`arity` -1) or `@name/arity`; a name of another module's function
        /// (`@lists.sort/1`) needs its arity.
        case function(Symbol, arity: Int)
        case tuple(TupleID)
    }

    /// A tuple literal: its elements are `tuples[id]`, and equal elements get the same id.
    struct TupleID: Hashable {
        var id: Int32
    }

    /// A named constant: its value and how deeply it nests tuples (0 for a scalar).
    struct NamedConstant {
        var literal: Literal
        var depth: Int
    }

    /// An operand as written.
    enum Operand {
        case register(Int)
        case literal(Literal)
        case name(Symbol)
        /// `name/arity`: a function named with its arity (`fib/1`, `lists.sort/1`).
        case function(Symbol, arity: Int)
    }

    /// Errors reported before the assembler gives up: enough to fix a file, few enough that a
    /// garbage input is rejected quickly.
    static let maxDiagnostics = 50

    let file: String
    let text: SourceText
    var lexer: Lexer
    /// The tokens of the line being assembled: one buffer, reused for every line.
    var tokens: [Token] = []
    /// The operands of the instruction being assembled, as written: one buffer, reused.
    var written: [(operand: Operand, column: Int)] = []
    /// The instruction forms of each mnemonic, by symbol (a copy of `Vocabulary.initial`'s, so
    /// reading it needs no check that the static is initialised).
    let vocabulary = Vocabulary.initial
    var diagnostics: [AssemblyDiagnostic] = []
    /// The index of the function each symbol names, -1 for none.
    var functionIndex = SymbolMap<Int32>(absent: -1)
    /// Arity of each declared function, by index.
    var functionArities: [Int] = []
    var constantsByName: [Symbol: NamedConstant] = [:]
    var atoms: [String] = []
    /// The atom index of each symbol used as an atom, -1 for none.
    var atomIndex = SymbolMap<Int32>(absent: -1)
    var constants: [Constant] = []
    var constantIndex: [Literal: Int] = [:]
    /// The elements of each tuple literal, by `TupleID`.
    var tuples: [[Literal]] = []
    /// The id of each tuple literal's elements (hash-consing), so equal tuples are one literal.
    var tupleIndex: [[Literal]: TupleID] = [:]
    /// The label each symbol names in a function: its code position, valid only while `owner`
    /// is the function being assembled, so that starting a function forgets the last one's
    /// labels in O(1).
    var labels = SymbolMap<LabelDefinition>(absent: LabelDefinition(owner: -1, pc: 0))
    /// Functions started so far: the owner of the current function's labels.
    var functionsStarted: Int32 = 0
    var sourceName: String
    /// The function whose body is being assembled, while `inFunction` (a plain property rather
    /// than an optional, so that each instruction updates it in place instead of copying it).
    var function = FunctionInProgress()
    var inFunction = false
    /// After a `func` line without a valid signature: its body is skipped up to `end`.
    var skippingBody = false
    var functions: [FunctionDefinition] = []
    /// `module NAME`: the module's name and the line that gave it (nil for a main program).
    var moduleName: (name: String, line: Int)?
    /// `export` statements: each function name with its arity and where it was written,
    /// checked against the functions when the file is done.
    var exported: [(name: Symbol, arity: Int, line: Int, column: Int)] = []
    /// `import` statements: the modules named, in order, each once.
    var requires: [String] = []
    /// Functions of other modules named by the code, in order of first use: function index
    /// `functionArities.count + k` is `imports[k]`.
    var imports: [ExternalFunction] = []
    var importIndex: [ExternalFunction: Int] = [:]
    /// Code words of the finished functions, against `Verifier.maxProgramWords`.
    var finishedCodeWords = 0
    var reportedCodeLimit = false

    /// Assembles `source`, naming `file` in diagnostics.
    public static func assemble(_ source: String, file: String) throws(AssemblyError) -> Module {
        try assemble(bytes: Array(source.utf8), file: file)
    }

    /// Assembles the bytes of a file, which must be UTF-8 (an optional byte order mark is
    /// skipped); a byte that is not is reported with its line and column.
    public static func assemble(bytes: [UInt8], file: String) throws(AssemblyError) -> Module {
        try bytes.withUnsafeBufferPointer { buffer throws(AssemblyError) in
            // The assembler lives only inside this call, so its view of `buffer` cannot outlive it.
            var assembler = Assembler(file: file, text: SourceText(buffer))
            return try assembler.run()
        }
    }

    private init(file: String, text: SourceText) {
        self.file = file
        self.text = text
        self.lexer = Lexer(bytes: text.bytes)
        self.sourceName = file
    }

    // MARK: Driver

    private mutating func run() throws(AssemblyError) -> Module {
        if let bad = text.firstInvalidByte() {
            let (line, column) = text.position(of: bad)
            let byte = "0x" + String(text.bytes[bad], radix: 16, uppercase: true)
            report(line, column, "byte \(byte) is not UTF-8: the file is neither assembly text nor a Skein binary module")
            throw AssemblyError(diagnostics: diagnostics)
        }
        collectDeclarations()
        for line in text.lines {
            if isFull { break }
            assembleLine(line.number, line.range)
        }
        if inFunction { finishFunction(sawEnd: false) }
        if diagnostics.isEmpty, moduleName == nil, functionIndex[Keyword.main.symbol] < 0 {
            report(1, 1, "no function main/0: the program has nowhere to start (a library file starts with 'module NAME')")
        }
        let exports = resolveExports()
        guard diagnostics.isEmpty else {
            diagnostics.sort { ($0.line, $0.column) < ($1.line, $1.column) }
            throw AssemblyError(diagnostics: diagnostics)
        }
        return Module(sourceName: sourceName, name: moduleName?.name, atoms: atoms, constants: constants, functions: functions,
                      exports: exports, imports: imports, requires: requires)
    }

    /// Whether enough errors have been reported to stop.
    var isFull: Bool { diagnostics.count >= Assembler.maxDiagnostics }

    mutating func report(_ line: Int, _ column: Int, _ message: String) {
        if !isFull { diagnostics.append(AssemblyDiagnostic(file: file, line: line, column: column, message: message)) }
    }

    /// Tokenises a line into `tokens`; a lexical error is reported (when `reportErrors`) and
    /// leaves no tokens.
    mutating func tokenize(_ number: Int, _ range: Range<Int>, reportErrors: Bool) {
        do {
            try lexer.tokenize(range, into: &tokens)
        } catch {
            tokens.removeAll(keepingCapacity: true)
            if reportErrors { report(number, error.column, error.message) }
        }
    }

    /// Pass 1: function signatures and named constants. It tokenises only the lines that start
    /// with `func` or `const`, and leaves lexical errors to pass 2, which tokenises every line.
    private mutating func collectDeclarations() {
        for line in text.lines {
            if isFull { return }
            // Most lines are instructions: a first byte after the indentation that is neither
            // `c` nor `f` rules a line out without comparing words.
            var first = line.range.lowerBound
            while first < line.range.upperBound, text.bytes[first] == 0x20 || text.bytes[first] == 0x09 { first += 1 }
            if first < line.range.upperBound, text.bytes[first] != UInt8(ascii: "c"), text.bytes[first] != UInt8(ascii: "f"),
               text.bytes[first] != UInt8(ascii: "m") { continue }
            let isConst = lexer.startsWithKeyword("const", line.range)
            let isModule = !isConst && lexer.startsWithKeyword("module", line.range)
            guard isConst || isModule || lexer.startsWithKeyword("func", line.range) else { continue }
            tokenize(line.number, line.range, reportErrors: false)
            if tokens.isEmpty { continue }
            if isConst { declareConstant(line.number) } else if isModule { declareModule(line.number) } else { declareFunction(line.number) }
        }
    }

    private mutating func declareFunction(_ line: Int) {
        guard let (name, arity) = signature() else {
            report(line, tokens[0].column, "expected 'func NAME/ARITY' with an arity up to 255, e.g. 'func fib/1'")
            return
        }
        if functionIndex[name] >= 0 {
            report(line, tokens[1].column, "function '\(string(name))' is defined twice")
        } else if functionArities.count == Verifier.maxFunctions {
            report(line, tokens[0].column, "more than \(Verifier.maxFunctions) functions (function operands are 16-bit)")
        } else {
            if name == Keyword.main.symbol, arity > 1 { report(line, tokens[3].column, "main takes no arguments or one (the program's arguments): 'func main/0' or 'func main/1'") }
            functionIndex[name] = Int32(functionArities.count)
            functionArities.append(arity)
            // `func f/1 export`: as if `export f/1` were written (pass 2 reports other text).
            if signatureExtras().exported { exported.append((name, arity, line, tokens[1].column)) }
        }
    }

    /// The text of `symbol`, for the module or a message.
    func string(_ symbol: Symbol) -> String { lexer.symbols.string(symbol) }

    private mutating func declareConstant(_ line: Int) {
        guard tokens.count >= 4, tokens[1].kind == .identifier, tokens[2].kind == .equals else {
            report(line, tokens[0].column, "expected 'const NAME = literal'")
            return
        }
        let name = tokens[1].symbol
        var p = 3
        guard let (literal, depth) = parseLiteral(&p, line: line, level: 0) else { return }
        guard p == tokens.count else {
            report(line, tokens[p].column, "unexpected text after the constant's value")
            return
        }
        if constantsByName[name] != nil { report(line, tokens[1].column, "constant '\(string(name))' is defined twice") }
        constantsByName[name] = NamedConstant(literal: literal, depth: depth)
    }

    /// `func NAME/ARITY` at the start of `tokens`.
    func signature() -> (Symbol, Int)? {
        guard tokens.count >= 4, tokens[1].kind == .identifier, tokens[2].kind == .slash,
              tokens[3].kind == .integer, tokens[3].payload >= 0, tokens[3].payload <= 255 else { return nil }
        return (tokens[1].symbol, Int(tokens[3].payload))
    }

    /// Pass 2 for one line: a statement at the top level or a line of the current function.
    private mutating func assembleLine(_ number: Int, _ range: Range<Int>) {
        tokenize(number, range, reportErrors: true)
        guard let first = tokens.first else {
            // A `func` line that does not tokenise: skip its body rather than report every line.
            if !inFunction, !skippingBody, lexer.startsWithKeyword("func", range) { skippingBody = true }
            return
        }
        if first.isKeyword(.const) {
            // Declared in pass 1.
            if inFunction { report(number, first.column, "constants are defined at the top level, not inside a function") }
            return
        }
        if inFunction {
            if first.isKeyword(.end), tokens.count == 1 {
                finishFunction(sawEnd: true)
                return
            } else if first.isKeyword(.func) {
                report(number, first.column, "'func' inside function \(function.name); is an 'end' missing?")
                finishFunction(sawEnd: false)
            } else {
                assembleInstruction(number)
                return
            }
        }
        if skippingBody {
            if first.isKeyword(.end) {
                skippingBody = false
                return
            } else if first.isKeyword(.func) {
                skippingBody = false
            } else {
                return
            }
        }
        if first.isKeyword(.func) {
            startFunction(number)
        } else if first.isKeyword(.module) {
            // Declared in pass 1.
        } else if first.isKeyword(.export) {
            declareExports(number)
        } else if first.isKeyword(.import) {
            declareImports(number)
        } else if first.kind == .directive, first.symbol == Keyword.source.symbol {
            if tokens.count == 2, tokens[1].kind == .string { sourceName = string(tokens[1].symbol) } else {
                report(number, first.column, ".source expects one string")
            }
        } else {
            report(number, first.column, "expected 'func', 'const', 'module', 'export', 'import' or '.source' at the top level")
        }
    }
}
