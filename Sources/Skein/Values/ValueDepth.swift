/// The one bound on how deep any walk over a guest value may go.
///
/// Arrays are mutable, so a program can build a value that contains itself; and tuples can
/// nest as deep as a program likes. Every walk over a value (equality and order, copying into
/// a message or a heap, printing, conversion to a host `Term`) recurses through this bound and
/// stops with `Exceeded` instead of running off the thread's stack. The interpreter turns that
/// into a runtime error of the process that asked, so no value can take the VM down.
///
/// Why 10,000: deep enough for any data structure a program means to build (a 10,000-long list
/// of nested 2-tuples), shallow enough that the deepest recursion (about 200 bytes a level)
/// stays far inside a worker thread's stack (`Worker.threadStackBytes`).
enum ValueDepth {
    /// Deepest nesting a walk follows.
    static let limit = 10_000

    /// A value nests deeper than `limit` (or contains itself).
    struct Exceeded: Error {}

    /// Throws when a walk at `depth` may go no deeper.
    @inline(__always) static func check(_ depth: Int) throws(Exceeded) {
        if depth >= limit { throw Exceeded() }
    }
}
