// swift-tools-version: 6.1
//
// Skein: a lightweight actor-process virtual machine.
//
// Linux only: workers park on futexes (CSkeinSupport calls the futex system call) and libuv
// comes from Debian's libuv1-dev through pkg-config. No Apple `platforms` are declared: the
// package does not build there.
//
// Release tuning (why each flag is here is written in ARCHITECTURE.md, "Build flags"):
// - `-enforce-exclusivity=unchecked`: the interpreter and scheduler reach their state through
//   raw pointers and `final class` fields; dynamic exclusivity checks cost a runtime call per
//   access in the dispatch loop.
// - `-Ounchecked` is *not* used: integer overflow must stay a checked, reported error.
// - `-Xllvm -tail-dup-pred-size=1000 -Xllvm -tail-dup-succ-size=1000`: LLVM does not
//   tail-duplicate a block with more than 16 predecessors and more than 16 successors, and the
//   interpreter's dispatch block has ~180 successors (the switch) and over 40 predecessors;
//   without these, `Interpreter.run` gets one shared indirect jump instead of one per handler
//   (docs/interpreter.md, "Replicated dispatch").
import PackageDescription

let hotPathFlags: [SwiftSetting] = [
    .unsafeFlags(
        ["-enforce-exclusivity=unchecked", "-Xllvm", "-tail-dup-pred-size=1000", "-Xllvm", "-tail-dup-succ-size=1000"],
        .when(configuration: .release)
    ),
]

let package = Package(
    name: "Skein",
    products: [
        .library(name: "Skein", targets: ["Skein"]),
        .executable(name: "vm", targets: ["vm"]),
        // The C API (Sources/SkeinC/include/skein.h) as a shared library for C hosts.
        .library(name: "skein", type: .dynamic, targets: ["SkeinC"]),
        // Host programs embedding the library (Examples/; the tests run them).
        .executable(name: "job-runner", targets: ["JobRunner"]),
        .executable(name: "plugin-host", targets: ["PluginHost"]),
        .executable(name: "async-service", targets: ["AsyncService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .target(
            name: "CSkeinSupport"
        ),
        .target(
            name: "Skein",
            dependencies: ["CLibUV", "CSkeinSupport"],
            // The standard library's sources, embedded in the code as bytes
            // (`PackageResources.lists_ska`, …): a copied `vm` binary carries them.
            resources: [.embedInCode("StandardLibrary")],
            swiftSettings: hotPathFlags
        ),
        .target(
            name: "SkeinC",
            dependencies: ["Skein"],
            exclude: ["include"]
        ),
        .executableTarget(
            name: "vm",
            dependencies: [
                "Skein",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: hotPathFlags
        ),
        .executableTarget(name: "JobRunner", dependencies: ["Skein"], path: "Examples/JobRunner"),
        .executableTarget(name: "PluginHost", dependencies: ["Skein"], path: "Examples/PluginHost"),
        .executableTarget(name: "AsyncService", dependencies: ["Skein"], path: "Examples/AsyncService"),
        .testTarget(
            name: "SkeinTests",
            dependencies: ["Skein"]
        ),
    ]
)
