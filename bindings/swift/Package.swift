// swift-tools-version:5.9
// Swift bindings for the vlmjudge C ABI. Needs libvlmjudge installed where pkg-config
// finds it (PKG_CONFIG_PATH=$DIST/lib/pkgconfig, see README.md). Untested: no Swift
// toolchain was available where this package was written.
import PackageDescription

let package = Package(
    name: "VLMJudge",
    products: [
        .library(name: "VLMJudge", targets: ["VLMJudge"]),
    ],
    targets: [
        // The C header as a Clang module; flags from `pkg-config vlmjudge`.
        .systemLibrary(
            name: "CVLMJudge",
            path: "Sources/CVLMJudge",
            pkgConfig: "vlmjudge"
        ),
        .target(name: "VLMJudge", dependencies: ["CVLMJudge"]),
        .testTarget(name: "VLMJudgeTests", dependencies: ["VLMJudge"]),
    ]
)
