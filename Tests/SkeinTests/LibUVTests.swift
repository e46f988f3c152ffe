import Testing
@testable import Skein

@Suite struct LibUVTests {
    @Test func libuvIsLinked() {
        let parts = LibUV.version.split(separator: ".")
        #expect(parts.count == 3)
        #expect(Int(parts[0]) == 1)
        #expect(LibUV.smokeTest())
    }
}
