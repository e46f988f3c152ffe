/// The operations of `str rD, :operation, rArgs, n` on strings and binaries, resolved from the
/// atom when a program is loaded (`LoadedProgram.stringOperations`), as `io` operations are.
///
/// One instruction for the whole family instead of an opcode each: the opcode table, the
/// verifier and the assembler do not grow with it, and the interpreter's hot loop gains one
/// case that no hot instruction pays for. Semantics are in docs/assembly.md ("Strings and
/// binaries"); offsets and lengths count bytes.
enum StringOperationKind: UInt8, NamedOperation {
    // Slicing and searching
    case slice, find, startsWith, endsWith
    // Splitting, joining, replacing
    case split, join, replace
    // Trimming and ASCII case
    case trim, trimStart, trimEnd, upper, lower
    // Conversions
    case toInt, fromInt, toFloat, toString, toBinary, toArray, utf8Error
    // Formatting
    case format

    /// The atom programs name it by.
    var name: String {
        switch self {
        case .slice: "slice"
        case .find: "find"
        case .startsWith: "starts_with"
        case .endsWith: "ends_with"
        case .split: "split"
        case .join: "join"
        case .replace: "replace"
        case .trim: "trim"
        case .trimStart: "trim_start"
        case .trimEnd: "trim_end"
        case .upper: "upper"
        case .lower: "lower"
        case .toInt: "to_int"
        case .fromInt: "from_int"
        case .toFloat: "to_float"
        case .toString: "to_string"
        case .toBinary: "to_binary"
        case .toArray: "to_array"
        case .utf8Error: "utf8_error"
        case .format: "format"
        }
    }

    /// The argument counts it accepts (optional trailing ones: a slice's end, a search's start,
    /// a number base; a format's values, as many as the count field holds).
    var arity: ClosedRange<Int> {
        switch self {
        case .slice, .find: 2...3
        case .startsWith, .endsWith, .split, .join: 2...2
        case .replace: 3...3
        case .trim, .trimStart, .trimEnd, .upper, .lower, .toFloat, .toString, .toBinary, .toArray, .utf8Error: 1...1
        case .toInt, .fromInt: 1...2
        case .format: 1...255
        }
    }

    /// What string operations are called in errors.
    static var family: String { "string operation" }
    /// Every operation by its name.
    static let byName = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })
}
