/// The module statements: `module NAME`, `export f/1, g/2` and `import NAME`, and how a function
/// name in an operand becomes a function index (one of the file's functions, or a function of
/// another module, `lists.sort/1`, which becomes an entry of the module's imports).
extension Assembler {
    /// `module NAME` (pass 1, so that every line knows the file is a library module).
    mutating func declareModule(_ line: Int) {
        guard tokens.count == 2, tokens[1].kind == .identifier, ModuleName.isValid(string(tokens[1].symbol)) else {
            report(line, tokens[0].column, "expected 'module NAME', a name of letters, digits and '_' (no '.')")
            return
        }
        if let earlier = moduleName {
            report(line, tokens[0].column, "a second 'module' line: the file is module \(earlier.name) (line \(earlier.line)); a file holds one module")
            return
        }
        moduleName = (string(tokens[1].symbol), line)
    }

    /// `export NAME/ARITY, …`: checked once every function is known (`resolveExports`).
    mutating func declareExports(_ line: Int) {
        commaSeparated(line, "expected 'export NAME/ARITY, …', e.g. 'export sort/1, map/2'") { a, p in
            guard p + 2 < a.tokens.count, a.tokens[p].kind == .identifier, a.tokens[p + 1].kind == .slash, a.tokens[p + 2].kind == .integer,
                  (0...255).contains(a.tokens[p + 2].payload) else { return false }
            a.exported.append((a.tokens[p].symbol, Int(a.tokens[p + 2].payload), line, a.tokens[p].column))
            p += 3
            return true
        }
    }

    /// `import NAME, …`: modules loaded with this one (a qualified call imports its module
    /// without a statement; `import` says so for a module used only through references).
    mutating func declareImports(_ line: Int) {
        commaSeparated(line, "expected 'import NAME, …' with module names (letters, digits and '_')") { a, p in
            guard p < a.tokens.count, a.tokens[p].kind == .identifier, ModuleName.isValid(a.string(a.tokens[p].symbol)) else { return false }
            let name = a.string(a.tokens[p].symbol)
            if !a.requires.contains(name) { a.requires.append(name) }
            p += 1
            return true
        }
    }

    /// The items after the statement's keyword, separated by commas, each taken by `item` from
    /// `tokens[p]` on (advancing `p`; false when it is not one), reporting `expected` at the first
    /// that is not.
    private mutating func commaSeparated(_ line: Int, _ expected: String, _ item: (inout Assembler, inout Int) -> Bool) {
        var p = 1
        while true {
            guard item(&self, &p) else {
                report(line, tokens[min(p, tokens.count - 1)].column, expected)
                return
            }
            guard p < tokens.count else { return }
            guard tokens[p].kind == .comma, p + 1 < tokens.count else {
                report(line, tokens[p].column, "expected ',' and another item: " + expected)
                return
            }
            p += 1
        }
    }

    /// The function indices of the `export` statements, ascending; an export of a function the
    /// file lacks (or with another arity), or in a main program, is reported.
    mutating func resolveExports() -> [Int] {
        var indices = Set<Int>()
        for (name, arity, line, column) in exported {
            guard moduleName != nil else {
                report(line, column, "only a library module exports functions: start the file with 'module NAME'")
                continue
            }
            let index = functionIndex[name]
            guard index >= 0 else {
                report(line, column, "export of '\(string(name))/\(arity)', which the file does not define")
                continue
            }
            guard functionArities[Int(index)] == arity else {
                report(line, column, "export of '\(string(name))/\(arity)', but \(string(name)) takes \(functionArities[Int(index)]) arguments")
                continue
            }
            indices.insert(Int(index))
        }
        return indices.sorted()
    }

    /// The function index `name` (with `arity`, or -1 where none was written) stands for: a
    /// function of this file (whose arity must match), or a function of another module
    /// (`lists.sort` with its arity), added to the imports on first use. `nil` if it is neither.
    mutating func functionSlot(_ name: Symbol, arity: Int) -> Int? {
        let local = functionIndex[name]
        if local >= 0 { return arity < 0 || functionArities[Int(local)] == arity ? Int(local) : nil }
        guard arity >= 0, let (module, function) = ModuleName.split(string(name)) else { return nil }
        if module == moduleName?.name {
            // This module's own function, qualified.
            let own = lexer.symbols.intern(function)
            guard functionIndex[own] >= 0 else { return nil }
            return functionArities[Int(functionIndex[own])] == arity ? Int(functionIndex[own]) : nil
        }
        let external = ExternalFunction(module: module, name: function, arity: arity)
        if let k = importIndex[external] { return functionArities.count + k }
        guard functionArities.count + imports.count < Verifier.maxFunctions else { return nil }
        imports.append(external)
        importIndex[external] = imports.count - 1
        return functionArities.count + imports.count - 1
    }

    /// The arity of function index `slot` (a function of the file, or an import).
    func arity(ofSlot slot: Int) -> Int {
        slot < functionArities.count ? functionArities[slot] : imports[slot - functionArities.count].arity
    }

    /// Why a function name in an operand names no function, for the diagnostic.
    func functionProblem(_ name: Symbol, arity: Int) -> String {
        let text = string(name)
        let local = functionIndex[name]
        if local >= 0 { return "\(text) takes \(functionArities[Int(local)]) arguments, not \(arity)" }
        if let (module, function) = ModuleName.split(text) {
            return arity < 0 ? "\(text) names function \(function) of module \(module): write its arity, e.g. \(text)/1" : "no function \(text)/\(arity)"
        }
        return "unknown function '\(text)'"
    }
}
