// swift-tools-version: 6.1
// Host <-> process round trips per second: Skein's host mailbox and VM.call beside a Swift actor
// doing the same work, in one run (`bench/run host`, or `swift run -c release` here).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, so the repository's checkout folder is
/// the name the Skein product is found under (as in Fuzz/Package.swift).
let skeinPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "HostRoundTrip",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(name: "HostRoundTrip", dependencies: [.product(name: "Skein", package: skeinPackage)]),
    ]
)
