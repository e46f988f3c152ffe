import Synchronization

/// The heap memory of every process of one VM together, against the VM-wide limit
/// (`VM.Options.maxMemoryBytes`), beside each process's own heap limit.
///
/// A heap reserves the words a collection adds to its space before it allocates them and gives
/// back what it frees, so `usedWords` is always at least the words the VM's heaps hold (it may
/// exceed them for the instant between a reservation and the failed `malloc` that undoes it).
/// A reservation that would pass the limit fails, and the process that asked ends with a
/// `memory_limit` error: the process that wants more memory is the one that pays, as with the
/// per-process limit, and the host lives on.
///
/// Ordering: relaxed. The counter orders nothing else; each reservation is one atomic
/// compare-and-exchange loop, so concurrent heaps never over-commit together.
final class MemoryBudget: Sendable {
    /// Words reserved by all heaps.
    let usedWords = Atomic<Int>(0)
    /// Most words all heaps may hold together.
    let limitWords: Int

    init(limitWords: Int) { self.limitWords = limitWords }

    /// Reserves `words` more words; false (and nothing reserved) if that would pass the limit.
    func reserve(_ words: Int) -> Bool {
        var current = usedWords.load(ordering: .relaxed)
        while true {
            guard current <= limitWords - words else { return false }
            let (exchanged, original) = usedWords.compareExchange(expected: current, desired: current + words, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back `words` words.
    func release(_ words: Int) {
        usedWords.wrappingSubtract(words, ordering: .relaxed)
    }
}
