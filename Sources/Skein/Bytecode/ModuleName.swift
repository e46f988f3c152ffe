/// What a module may be called, and how a qualified function name (`lists.sort`) splits into a
/// module and a function: at the first `.`, since a module name has none (function names may).
enum ModuleName {
    /// Whether `name` can name a module: a letter or `_`, then letters, digits or `_`. No `.`,
    /// so that `lists.sort` has one reading, and nothing a file name would quote.
    static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }

    /// `name` as an error message shows it (quoted: it may be empty or hold anything).
    static func quoted(_ name: String) -> String { Disassembler.quote(name) }

    /// `module.function` split into its module and function, or `nil` if `qualified` has no `.`
    /// or what comes before it is no module name.
    static func split(_ qualified: String) -> (module: String, function: String)? {
        guard let dot = qualified.firstIndex(of: ".") else { return nil }
        let module = String(qualified[..<dot]), function = String(qualified[qualified.index(after: dot)...])
        guard isValid(module), !function.isEmpty else { return nil }
        return (module, function)
    }
}
