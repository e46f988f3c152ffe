// swift-tools-version: 6.1
//
// libFuzzer targets for Skein, kept out of the main package so that `swift build` and
// `swift test` never need the fuzzer runtime. Built and run by the Makefile (`make fuzz`,
// `make fuzz-ci`); docs/security.md says what each target checks.
//
// Build by hand (from this folder):
//     swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -enable-testing --product FuzzLoader
// `-enable-testing` lets FuzzSupport re-sign mutated modules with Skein's own CRC-32.
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, so the repository's checkout folder
/// (`main`, a worktree, `skein`…) is the name the Skein product is found under.
let skeinPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()
/// The library every target fuzzes.
let skein: Target.Dependency = .product(name: "Skein", package: skeinPackage)

let package = Package(
    name: "SkeinFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [skein]),
        .executableTarget(name: "FuzzLoader", dependencies: [skein, "FuzzSupport"]),
        .executableTarget(name: "FuzzAssembler", dependencies: [skein]),
        .executableTarget(name: "FuzzRun", dependencies: [skein, "FuzzSupport"]),
    ]
)
