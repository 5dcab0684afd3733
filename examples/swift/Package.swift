// swift-tools-version:5.9
// The Swift example as its own package over ../../bindings/swift. UNTESTED here.
// Run: PKG_CONFIG_PATH=$DIST/lib/pkgconfig swift run -Xlinker -rpath -Xlinker $DIST/lib judge MODEL.gguf
import PackageDescription

let package = Package(
    name: "judge-example",
    dependencies: [.package(path: "../../bindings/swift")],
    targets: [
        .executableTarget(
            name: "judge",
            dependencies: [.product(name: "VLMJudge", package: "swift")],
            path: ".",
            exclude: ["Package.swift"],
            sources: ["main.swift"]
        ),
    ]
)
