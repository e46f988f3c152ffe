// The C API of Skein (include/skein.h), built as libskein.so.
//
// Every handle C holds is a retained Swift object passed as an opaque pointer
// (`Unmanaged.passRetained`); the matching free call releases it. Terms are immutable boxes,
// so a term may be read from several threads at once. Errors are values: a failing call
// returns NULL or -1 and leaves a message for the calling thread (`skein_last_error`).
import Foundation
import Skein

// MARK: Errors

/// The calling thread's last error message, NUL-terminated, kept alive until the next one.
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

/// Records `message` as the calling thread's last error.
private func setLastError(_ message: String) {
    free(pthread_getspecific(lastErrorKey))
    pthread_setspecific(lastErrorKey, strdup(message))
}

@_cdecl("skein_last_error")
public func skein_last_error() -> UnsafePointer<CChar> {
    if let message = pthread_getspecific(lastErrorKey) { return UnsafePointer(message.assumingMemoryBound(to: CChar.self)) }
    return UnsafePointer(("" as StaticString).utf8Start.withMemoryRebound(to: CChar.self, capacity: 1) { $0 })
}

// MARK: Terms

/// A term handed to C: the value, its text form for `skein_term_text`, and its items as boxes
/// of their own (made on first access, owned by the parent) for `skein_term_item`.
final class TermBox: @unchecked Sendable {
    // Sendable: `term` and `text` never change; `items` is made once under `itemsLock`.
    let term: Term
    let text: ContiguousArray<CChar>?
    private var items: [TermBox]?
    private let itemsLock = NSLock()

    init(_ term: Term) {
        self.term = term
        switch term {
        case .atom(let s), .string(let s): text = ContiguousArray(s.utf8CString)
        case .bytes(let bytes): text = ContiguousArray(bytes.map { CChar(bitPattern: $0) } + [0])
        default: text = nil
        }
    }

    /// The items of a tuple or array, boxed; for a map, its keys and values in turn
    /// (`[k0, v0, k1, v1, …]`), in the order of the printed keys so that it does not depend on
    /// hashing.
    var children: [TermBox] {
        itemsLock.withLock {
            if let items { return items }
            let made: [TermBox]
            switch term {
            case .tuple(let list), .array(let list): made = list.map(TermBox.init)
            case .map(let entries):
                made = entries.map { (key: $0.key.description, entry: $0) }.sorted { $0.key < $1.key }
                    .flatMap { [TermBox($0.entry.key), TermBox($0.entry.value)] }
            default: made = []
            }
            items = made
            return made
        }
    }

    /// A new reference for C.
    func retained() -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    /// The box behind a C pointer, borrowed.
    static func from(_ pointer: OpaquePointer) -> TermBox { Unmanaged<TermBox>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue() }
}

/// The terms of a C array of term pointers.
private func terms(_ items: UnsafePointer<OpaquePointer?>?, _ count: Int) -> [Term]? {
    guard count > 0 else { return [] }
    guard let items else { return nil }
    var result: [Term] = []
    for i in 0..<count {
        guard let item = items[i] else { return nil }
        result.append(TermBox.from(item).term)
    }
    return result
}

/// A C string as Swift text, or nil.
private func text(_ pointer: UnsafePointer<CChar>?) -> String? { pointer.map { String(cString: $0) } }

@_cdecl("skein_nil") public func skein_nil() -> OpaquePointer { TermBox(.nil).retained() }
@_cdecl("skein_int") public func skein_int(_ value: Int64) -> OpaquePointer { TermBox(.int(value)).retained() }
@_cdecl("skein_float") public func skein_float(_ value: Double) -> OpaquePointer { TermBox(.float(value)).retained() }

@_cdecl("skein_atom")
public func skein_atom(_ name: UnsafePointer<CChar>?) -> OpaquePointer? {
    guard let name = text(name) else { setLastError("skein_atom: the name is NULL"); return nil }
    return TermBox(.atom(name)).retained()
}

@_cdecl("skein_string")
public func skein_string(_ utf8: UnsafePointer<CChar>?) -> OpaquePointer? {
    guard let utf8 else { setLastError("skein_string: the text is NULL"); return nil }
    let bytes = UnsafeRawBufferPointer(start: utf8, count: strlen(utf8))
    guard let string = String(validating: bytes, as: UTF8.self) else { setLastError("skein_string: the text is not valid UTF-8"); return nil }
    return TermBox(.string(string)).retained()
}

@_cdecl("skein_binary")
public func skein_binary(_ bytes: UnsafeRawPointer?, _ length: Int) -> OpaquePointer? {
    guard let bytes else {
        guard length == 0 else { setLastError("skein_binary: the bytes are NULL"); return nil }
        return TermBox(.bytes([])).retained()
    }
    return TermBox(.bytes(Array(UnsafeRawBufferPointer(start: bytes, count: length)))).retained()
}

@_cdecl("skein_tuple")
public func skein_tuple(_ items: UnsafePointer<OpaquePointer?>?, _ count: Int) -> OpaquePointer? {
    guard let list = terms(items, count) else { setLastError("skein_tuple: an item is NULL"); return nil }
    return TermBox(.tuple(list)).retained()
}

/// A map of copies of `keys[i] => values[i]` (a repeated key keeps its last value).
@_cdecl("skein_map")
public func skein_map(_ keys: UnsafePointer<OpaquePointer?>?, _ values: UnsafePointer<OpaquePointer?>?, _ count: Int) -> OpaquePointer? {
    guard let keys = terms(keys, count), let values = terms(values, count) else { setLastError("skein_map: a key or value is NULL"); return nil }
    return TermBox(.map(Dictionary(zip(keys, values), uniquingKeysWith: { $1 }))).retained()
}

@_cdecl("skein_copy")
public func skein_copy(_ term: OpaquePointer) -> OpaquePointer {
    _ = Unmanaged<TermBox>.fromOpaque(UnsafeRawPointer(term)).retain()
    return term  // terms are immutable: a copy is another reference
}

@_cdecl("skein_term_free")
public func skein_term_free(_ term: OpaquePointer?) {
    guard let term else { return }
    Unmanaged<TermBox>.fromOpaque(UnsafeRawPointer(term)).release()
}

@_cdecl("skein_term_kind")
public func skein_term_kind(_ term: OpaquePointer) -> Int32 {
    switch TermBox.from(term).term {
    case .nil: 0
    case .bool: 1
    case .int: 2
    case .float: 3
    case .atom: 4
    case .string: 5
    case .bytes: 6
    case .tuple: 7
    case .array: 8
    case .pid: 9
    case .ref: 10
    case .map: 11
    }
}

@_cdecl("skein_term_int")
public func skein_term_int(_ term: OpaquePointer) -> Int64 {
    switch TermBox.from(term).term {
    case .int(let n): n
    case .bool(let b): b ? 1 : 0
    default: 0
    }
}

@_cdecl("skein_term_float")
public func skein_term_float(_ term: OpaquePointer) -> Double {
    if case .float(let d) = TermBox.from(term).term { return d }
    return 0
}

@_cdecl("skein_term_text")
public func skein_term_text(_ term: OpaquePointer) -> UnsafePointer<CChar>? {
    // The buffer lives as long as the box, which C holds.
    TermBox.from(term).text?.withUnsafeBufferPointer { $0.baseAddress }
}

@_cdecl("skein_term_bytes")
public func skein_term_bytes(_ term: OpaquePointer, _ length: UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? {
    let box = TermBox.from(term)
    // The text buffer holds the bytes of a string or binary (and a NUL after them), for the box's life.
    switch box.term {
    case .string(let s): length?.pointee = s.utf8.count
    case .bytes(let b): length?.pointee = b.count
    default:
        length?.pointee = 0
        return nil
    }
    return box.text?.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self) }
}

@_cdecl("skein_term_count")
public func skein_term_count(_ term: OpaquePointer) -> Int {
    switch TermBox.from(term).term {
    case .tuple(let items), .array(let items): items.count
    case .map(let entries): entries.count
    default: 0
    }
}

/// Child `index` of `term`'s children (see `TermBox.children`), lent: the parent owns it.
private func child(_ term: OpaquePointer, _ index: Int, of count: Int, _ function: String) -> OpaquePointer? {
    guard index >= 0, index < count else { setLastError("\(function): index \(index) is out of range"); return nil }
    return OpaquePointer(Unmanaged.passUnretained(TermBox.from(term).children[index]).toOpaque())
}

@_cdecl("skein_term_item")
public func skein_term_item(_ term: OpaquePointer, _ index: Int) -> OpaquePointer? {
    switch TermBox.from(term).term {
    case .tuple(let items), .array(let items): child(term, index, of: items.count, "skein_term_item")
    default: child(term, index, of: 0, "skein_term_item")
    }
}

/// The key of a map's entry `index` (entries in the order of their printed keys).
@_cdecl("skein_term_key")
public func skein_term_key(_ term: OpaquePointer, _ index: Int) -> OpaquePointer? {
    guard case .map(let entries) = TermBox.from(term).term else { setLastError("skein_term_key: not a map"); return nil }
    return child(term, 2 * index, of: 2 * entries.count, "skein_term_key")
}

/// The value of a map's entry `index`.
@_cdecl("skein_term_value")
public func skein_term_value(_ term: OpaquePointer, _ index: Int) -> OpaquePointer? {
    guard case .map(let entries) = TermBox.from(term).term else { setLastError("skein_term_value: not a map"); return nil }
    return index < 0 ? child(term, index, of: 0, "skein_term_value") : child(term, 2 * index + 1, of: 2 * entries.count, "skein_term_value")
}


@_cdecl("skein_term_print")
public func skein_term_print(_ term: OpaquePointer) -> UnsafeMutablePointer<CChar>? {
    strdup(TermBox.from(term).term.description)
}

@_cdecl("skein_free")
public func skein_free(_ memory: UnsafeMutableRawPointer?) { free(memory) }

// MARK: Configuration

/// What `skein_config_*` sets up: VM options, host functions included.
final class Config {
    var options = VM.Options()
}

/// The message a host function gave `skein_fail` on this thread.
private let hostFailureKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

/// Why a C host function returned NULL.
struct CHostFunctionFailed: Error, CustomStringConvertible {
    var description: String
}

@_cdecl("skein_fail")
public func skein_fail(_ message: UnsafePointer<CChar>?) {
    free(pthread_getspecific(hostFailureKey))
    pthread_setspecific(hostFailureKey, message.map { strdup($0) } ?? strdup("host function failed"))
}

private func config(_ pointer: OpaquePointer) -> Config { Unmanaged<Config>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue() }

@_cdecl("skein_config_new")
public func skein_config_new() -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(Config()).toOpaque()) }

@_cdecl("skein_config_free")
public func skein_config_free(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    Unmanaged<Config>.fromOpaque(UnsafeRawPointer(pointer)).release()
}

@_cdecl("skein_config_set_workers")
public func skein_config_set_workers(_ c: OpaquePointer, _ workers: Int32) { config(c).options.workers = max(1, Int(workers)) }
@_cdecl("skein_config_set_max_processes")
public func skein_config_set_max_processes(_ c: OpaquePointer, _ count: Int32) { config(c).options.maxProcesses = min(max(1, Int(count)), 1 << 22) }
@_cdecl("skein_config_set_max_heap")
public func skein_config_set_max_heap(_ c: OpaquePointer, _ bytes: Int64) { config(c).options.maxHeapBytes = max(Int(bytes), 8 << 10) }
@_cdecl("skein_config_set_max_memory")
public func skein_config_set_max_memory(_ c: OpaquePointer, _ bytes: Int64) { config(c).options.maxMemoryBytes = Int(bytes) }
@_cdecl("skein_config_set_max_reductions")
public func skein_config_set_max_reductions(_ c: OpaquePointer, _ count: Int64) { config(c).options.maxReductions = Int(count) }
@_cdecl("skein_config_set_deadline")
public func skein_config_set_deadline(_ c: OpaquePointer, _ seconds: Double) {
    config(c).options.deadline = .nanoseconds(Int64(max(0, seconds) * 1e9))
}

/// A C function pointer and its context, called from worker threads.
private struct CHostFunction: @unchecked Sendable {
    // Sendable: the C side promises the function may be called from any thread (skein.h).
    let function: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<OpaquePointer?>?, Int) -> OpaquePointer?
    let context: UnsafeMutableRawPointer?

    func call(_ arguments: [Term]) throws -> Term {
        let boxes = arguments.map(TermBox.init)
        let pointers: [OpaquePointer?] = boxes.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) }
        let result = withExtendedLifetime(boxes) { pointers.withUnsafeBufferPointer { function(context, $0.baseAddress, $0.count) } }
        guard let result else {
            let message = pthread_getspecific(hostFailureKey).map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
            throw CHostFunctionFailed(description: message ?? "the host function returned NULL")
        }
        let box = Unmanaged<TermBox>.fromOpaque(UnsafeRawPointer(result)).takeRetainedValue()  // the library frees it
        return box.term
    }
}

@_cdecl("skein_config_add_host_function")
public func skein_config_add_host_function(_ c: OpaquePointer, _ name: UnsafePointer<CChar>?, _ arity: Int32,
                                           _ function: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<OpaquePointer?>?, Int) -> OpaquePointer?)?,
                                           _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let name = text(name), let function, arity >= 0 else { setLastError("skein_config_add_host_function: a name, a function and an arity of 0 or more are needed"); return -1 }
    let host = CHostFunction(function: function, context: context)
    config(c).options.hostFunctions[name] = HostFunction(arity: Int(arity)) { arguments in try host.call(arguments) }
    return 0
}

// MARK: The VM

private func vm(_ pointer: OpaquePointer) -> VM { Unmanaged<VM>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue() }

@_cdecl("skein_vm_load")
public func skein_vm_load(_ bytes: UnsafeRawPointer?, _ length: Int, _ name: UnsafePointer<CChar>?, _ c: OpaquePointer?) -> OpaquePointer? {
    guard let bytes else { setLastError("skein_vm_load: the program is NULL"); return nil }
    return load(bytes, length, name, c, search: .standardLibraryOnly)
}

/// Loads the program of `bytes` with the modules it imports found by `search`, and starts a VM.
private func load(_ bytes: UnsafeRawPointer, _ length: Int, _ name: UnsafePointer<CChar>?, _ c: OpaquePointer?,
                  search: ModuleSearch) -> OpaquePointer? {
    let source = [UInt8](UnsafeRawBufferPointer(start: bytes, count: length))
    do {
        let program = try Program.load(bytes: source, name: text(name) ?? "<program>", search: search)
        let machine = try VM(program: program, options: c.map { config($0).options } ?? VM.Options())
        return OpaquePointer(Unmanaged.passRetained(machine).toOpaque())
    } catch {
        setLastError("\(error)")
        return nil
    }
}

@_cdecl("skein_vm_load_file")
public func skein_vm_load_file(_ path: UnsafePointer<CChar>?, _ c: OpaquePointer?) -> OpaquePointer? {
    guard let path = text(path) else { setLastError("skein_vm_load_file: the path is NULL"); return nil }
    guard let data = FileManager.default.contents(atPath: path) else { setLastError("cannot read \(path): no such file or not readable"); return nil }
    // Modules it imports are looked for beside it, then in the standard library (as `vm run`
    // does, without -I or SKEIN_PATH).
    let search = ModuleSearch.forProgram(at: path, environment: [:])
    return data.withUnsafeBytes { buffer in
        guard let base = buffer.baseAddress else { return skein_vm_load(nil, 0, nil, c) }
        return path.withCString { load(base, buffer.count, $0, c, search: search) }
    }
}

@_cdecl("skein_vm_shutdown")
public func skein_vm_shutdown(_ v: OpaquePointer) { vm(v).shutdown() }

@_cdecl("skein_vm_free")
public func skein_vm_free(_ v: OpaquePointer?) {
    guard let v else { return }
    vm(v).shutdown()
    Unmanaged<VM>.fromOpaque(UnsafeRawPointer(v)).release()
}

@_cdecl("skein_vm_run_main")
public func skein_vm_run_main(_ v: OpaquePointer, _ argv: UnsafePointer<UnsafePointer<CChar>?>?, _ argc: Int,
                              _ result: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let arguments = (0..<argc).compactMap { i in argv?[i].map { String(cString: $0) } }
    let (code, value): (Int32, Term)
    switch vm(v).runMain(arguments: arguments) {
    case .returned(let term): (code, value) = (0, term)
    case .failed(let error): (code, value) = (1, .string(error.description))
    case .exited(let reason): (code, value) = (2, reason)
    case .halted(let status): (code, value) = (3, .int(Int64(status)))
    case .stopped: (code, value) = (4, .nil)
    case .limitReached(.deadline): (code, value) = (5, .atom("deadline"))
    case .limitReached(.reductions): (code, value) = (5, .atom("reductions"))
    }
    result?.pointee = TermBox(value).retained()
    return code
}

@_cdecl("skein_vm_spawn")
public func skein_vm_spawn(_ v: OpaquePointer, _ function: UnsafePointer<CChar>?, _ args: UnsafePointer<OpaquePointer?>?, _ count: Int) -> OpaquePointer? {
    guard let function = text(function), let arguments = terms(args, count) else { setLastError("skein_vm_spawn: a function name and non-NULL arguments are needed"); return nil }
    do { return TermBox(try vm(v).spawn(function, arguments)).retained() } catch {
        setLastError("\(error)")
        return nil
    }
}

@_cdecl("skein_vm_send")
public func skein_vm_send(_ v: OpaquePointer, _ pid: OpaquePointer, _ message: OpaquePointer) -> Int32 {
    do {
        try vm(v).send(TermBox.from(pid).term, TermBox.from(message).term)
        return 0
    } catch {
        setLastError("\(error)")
        return -1
    }
}

// MARK: Host mailboxes

/// A host mailbox and its pid, boxed for C.
final class MailboxBox {
    let mailbox: HostMailbox
    let pid: TermBox
    init(_ mailbox: HostMailbox) {
        self.mailbox = mailbox
        pid = TermBox(mailbox.pid)
    }
}

private func mailbox(_ pointer: OpaquePointer) -> MailboxBox { Unmanaged<MailboxBox>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue() }

@_cdecl("skein_mailbox_open")
public func skein_mailbox_open(_ v: OpaquePointer) -> OpaquePointer? {
    do { return OpaquePointer(Unmanaged.passRetained(MailboxBox(try vm(v).makeMailbox())).toOpaque()) } catch {
        setLastError("\(error)")
        return nil
    }
}

@_cdecl("skein_mailbox_pid")
public func skein_mailbox_pid(_ m: OpaquePointer) -> OpaquePointer {
    OpaquePointer(Unmanaged.passUnretained(mailbox(m).pid).toOpaque())
}

@_cdecl("skein_mailbox_receive")
public func skein_mailbox_receive(_ m: OpaquePointer, _ timeoutMilliseconds: Int64) -> OpaquePointer? {
    do {
        let timeout: Duration? = timeoutMilliseconds < 0 ? nil : .milliseconds(timeoutMilliseconds)
        return TermBox(try mailbox(m).mailbox.receive(timeout: timeout)).retained()
    } catch {
        setLastError("\(error)")
        return nil
    }
}

@_cdecl("skein_mailbox_close")
public func skein_mailbox_close(_ m: OpaquePointer?) {
    guard let m else { return }
    mailbox(m).mailbox.close()
    Unmanaged<MailboxBox>.fromOpaque(UnsafeRawPointer(m)).release()
}
