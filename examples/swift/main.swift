// Judge one pair with the Swift wrapper (bindings/swift). UNTESTED: no Swift toolchain
// was available where it was written. Run: swift run judge MODEL.gguf (see README.md).
import Foundation
import VLMJudge

let args = CommandLine.arguments
guard args.count == 2 else {
    FileHandle.standardError.write("usage: judge MODEL.gguf\n".data(using: .utf8)!)
    exit(2)
}
do {
    let model = try Model(path: args[1])
    let judge = try Judge(model: model)
    let v = try judge.judge(Pair(id: "cat-legs", question: "How many legs does a cat have?",
                                 responseA: "A cat has four legs.",
                                 responseB: "A cat has seven legs."))
    if let error = v.error {
        FileHandle.standardError.write("pair \(v.id) failed: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    let consistent = v.consistent.map { $0 ? "yes" : "no" } ?? "unknown"
    print("\(v.id): verdict \(v.choice), p(A) = \(String(format: "%.3f", v.pA ?? .nan)),"
          + " consistent: \(consistent)")
} catch {
    FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
    exit(1)
}
