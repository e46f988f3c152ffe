/// The standard library: modules written in Skein assembly (`Sources/Skein/StandardLibrary/`,
/// documented in docs/stdlib.md), compiled into this library so that every program and host
/// finds them with no file or configuration.
///
/// SwiftPM embeds each `.ska` file of that folder in the code as bytes (`.embedInCode` in
/// Package.swift): a `vm` binary copied anywhere, or a host linking the library, carries its
/// standard library, which a resource bundle or a path beside the executable would not.
public enum StandardLibrary {
    /// Each module's source, by module name. `StandardLibraryTests` checks that every file of
    /// the folder is here.
    static let sources: [(name: String, bytes: [UInt8])] = [
        ("lists", PackageResources.lists_ska),
        ("maps", PackageResources.maps_ska),
        ("strings", PackageResources.strings_ska),
        ("timing", PackageResources.timing_ska),
        ("server", PackageResources.server_ska),
        ("supervisor", PackageResources.supervisor_ska),
    ]

    /// The names of the standard library's modules.
    public static var moduleNames: [String] { sources.map(\.name) }

    /// The module `name` of the standard library, if it has one: assembled from its source at
    /// each call (a few kilobytes: microseconds), not kept in a static, so its constants go
    /// with the program that uses them (LeakSanitizer cannot see through the boxes of a
    /// process-lifetime cache of `Constant`s and reported them as leaks).
    public static func module(named name: String) -> Module? {
        guard let source = sources.first(where: { $0.name == name }) else { return nil }
        do {
            return try Assembler.assemble(bytes: source.bytes, file: "stdlib/\(name).ska")
        } catch {
            // The sources are part of the build and every one is assembled by the tests.
            fatalError("standard library module \(name) does not assemble: \(error)")
        }
    }
}
