/// A value for each symbol, in an array indexed by symbol id: a lookup is an index, with nothing
/// hashed. Symbols the map has never been given read as `absent`; the array grows to the highest
/// symbol set, which is at most the number of distinct names in the text.
struct SymbolMap<Value> {
    /// The value of each symbol by id, up to the highest set.
    private var values: [Value] = []
    /// The value of every symbol not set.
    let absent: Value

    /// An empty map: every symbol reads as `absent`.
    init(absent: Value) { self.absent = absent }

    /// The value of `symbol`; setting one grows the array to reach it.
    subscript(symbol: Symbol) -> Value {
        get {
            let id = Int(symbol.id)
            return id < values.count ? values[id] : absent
        }
        set {
            let id = Int(symbol.id)
            if id >= values.count {
                // Doubling keeps the growth amortised O(1) per symbol.
                values.append(contentsOf: repeatElement(absent, count: max(id + 1, values.count * 2) - values.count))
            }
            values[id] = newValue
        }
    }
}
