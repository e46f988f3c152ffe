import Foundation

/// Structural equality, total ordering and type names of values. Pure functions of the values
/// (they read heap objects but never allocate), so any heap or a message buffer can use them.
enum ValueSemantics {
    /// The rank of a value's type in the cross-type order
    /// `nil < bool < number < atom < ref < function < pid < string < binary < tuple < map < array`
    /// (maps between tuples and lists, as in Erlang; binaries right after strings, the other
    /// byte strings, so a string never equals a binary with the same bytes).
    static func typeRank(_ v: Value) -> Int {
        if v.isSmallInt { return 2 }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt, .float: return 2
            case .string: return stringRank
            case .binary: return binaryRank
            case .tuple: return tupleRank
            case .mapFlat, .mapRoot, .mapNode, .mapCollision: return mapRank
            case .array, .arrayStorage: return 11
            }
        }
        switch v.immediateTag {
        case Value.specialTag: return v == .nil ? 0 : 1
        case Value.atomTag: return 3
        case Value.refTag: return 4
        case Value.functionTag: return 5
        default: return 6  // pid
        }
    }

    /// The ranks of strings, binaries, tuples and maps in the cross-type order.
    private static let stringRank = 7, binaryRank = 8, tupleRank = 9, mapRank = 10

    /// A numeric value as `Int64` (exact) or `Double`.
    enum Number { case int(Int64), float(Double) }

    /// The number `v` holds, if it is one.
    @inline(__always) static func number(_ v: Value) -> Number? {
        if v.isSmallInt { return .int(v.smallIntValue) }
        guard v.isObject else { return nil }
        switch HeapObject.kind(of: v.objectAddress) {
        case .boxedInt: return .int(v.boxedIntValue)
        case .float: return .float(v.floatValue)
        default: return nil
        }
    }

    /// Structural equality: exactly when `compare` says 0. So `1 == 1.0`, and NaN equals NaN
    /// wherever it appears (alone or inside a tuple), the one rule that keeps equality, the
    /// total order and map keys consistent (IEEE's NaN != NaN would make a NaN key unfindable).
    @inline(__always)
    static func equal(_ a: Value, _ b: Value) throws(ValueDepth.Exceeded) -> Bool {
        if a.raw == b.raw { return true }
        let kind = a.heapKind
        if (kind == .string || kind == .binary) && b.heapKind == kind {
            // Strings are the common map key: bytes compared without the general walk.
            let x = a.stringBytes, y = b.stringBytes
            return x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
        }
        return try compare(a, b, atoms: nil) == 0
    }

    /// Total order: negative, zero or positive as `a` is below, equal to or above `b`.
    /// Atoms order by name (as in Erlang), which needs the atom table; equality alone does not:
    /// without it (`atoms: nil`) atoms order by id, which gives another total order with the same
    /// equal pairs. Maps order by size, then by their keys in term order, then by the values in
    /// that key order (as in Erlang). Walks both values under `ValueDepth`.
    static func compare(_ a: Value, _ b: Value, atoms: AtomTable?, depth: Int = 0) throws(ValueDepth.Exceeded) -> Int {
        if a.raw == b.raw { return 0 }
        let ra = typeRank(a), rb = typeRank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        switch ra {
        case 1: return a == .false ? -1 : 1
        case 2: return compareNumbers(number(a)!, number(b)!)
        case 3:
            guard let atoms else { return a.immediatePayload < b.immediatePayload ? -1 : 1 }
            return atoms.name(Int(a.immediatePayload)) < atoms.name(Int(b.immediatePayload)) ? -1 : 1
        case 4, 5, 6:
            // References, functions and pids order by number.
            return a.immediatePayload < b.immediatePayload ? -1 : 1
        case stringRank, binaryRank:
            let x = a.stringBytes, y = b.stringBytes
            let common = min(x.count, y.count)
            let c = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
            if c != 0 { return c < 0 ? -1 : 1 }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        case mapRank:
            return try compareMaps(a, b, atoms: atoms, depth: depth)
        default:
            // Tuples: by size first, then element by element (as in Erlang); arrays
            // lexicographically, like Erlang lists.
            try ValueDepth.check(depth)
            let x = a.elements, y = b.elements
            if ra == tupleRank && x.count != y.count { return x.count < y.count ? -1 : 1 }
            for i in 0..<min(x.count, y.count) {
                let c = try compare(Value(raw: x[i]), Value(raw: y[i]), atoms: atoms, depth: depth + 1)
                if c != 0 { return c }
            }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        }
    }

    /// Maps by size, then keys, then values. Without atom names the keys are taken in canonical
    /// order (`MapLayout`), which equal maps share, so equality needs no sorting.
    private static func compareMaps(_ a: Value, _ b: Value, atoms: AtomTable?, depth: Int) throws(ValueDepth.Exceeded) -> Int {
        try ValueDepth.check(depth)
        let na = MapLayout.count(a), nb = MapLayout.count(b)
        if na != nb { return na < nb ? -1 : 1 }
        let x = atoms == nil ? MapLayout.entries(a) : try MapLayout.sortedEntries(a, atoms: atoms, depth: depth + 1)
        let y = atoms == nil ? MapLayout.entries(b) : try MapLayout.sortedEntries(b, atoms: atoms, depth: depth + 1)
        for i in 0..<na {
            let c = try compare(Value(raw: x[i].key), Value(raw: y[i].key), atoms: atoms, depth: depth + 1)
            if c != 0 { return c }
        }
        for i in 0..<na {
            let c = try compare(Value(raw: x[i].value), Value(raw: y[i].value), atoms: atoms, depth: depth + 1)
            if c != 0 { return c }
        }
        return 0
    }

    static func compareNumbers(_ a: Number, _ b: Number) -> Int {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.int(let x), .float(let y)): return compareMixed(x, y)
        case (.float(let x), .int(let y)): return -compareMixed(y, x)
        case (.float(let x), .float(let y)):
            if x < y { return -1 }
            if x > y { return 1 }
            if x == y { return 0 }
            return x.isNaN ? (y.isNaN ? 0 : 1) : -1  // NaN sorts last so the order stays total
        }
    }

    /// Compares an integer with a double exactly (no rounding of large integers).
    private static func compareMixed(_ x: Int64, _ y: Double) -> Int {
        if y.isNaN { return -1 }
        if y >= 9.3e18 { return -1 }
        if y < -9.3e18 { return 1 }
        let t = y.rounded(.towardZero)
        let yi = Int64(t)
        if x != yi { return x < yi ? -1 : 1 }
        let frac = y - t
        return frac > 0 ? -1 : (frac < 0 ? 1 : 0)
    }

    /// The `typeof` atom of a value.
    static func typeAtom(_ v: Value) -> AtomTable.Known {
        if v.isSmallInt { return .int }
        if v.isObject {
            switch HeapObject.kind(of: v.objectAddress) {
            case .boxedInt: return .int
            case .float: return .float
            case .string: return .string
            case .binary: return .binary
            case .tuple: return .tuple
            case .mapFlat, .mapRoot, .mapNode, .mapCollision: return .map
            case .array, .arrayStorage: return .array
            }
        }
        switch v.immediateTag {
        case Value.specialTag: return v == .nil ? .nil : .bool
        case Value.atomTag: return .atom
        case Value.refTag: return .ref
        case Value.functionTag: return .function
        default: return .pid
        }
    }
}
