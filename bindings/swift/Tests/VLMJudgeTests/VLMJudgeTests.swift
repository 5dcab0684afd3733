// Tests of the Swift wrapper on the generated tiny-vlm fixture. UNTESTED here: no Swift
// toolchain was available where they were written. Environment: VLMJUDGE_TEST_MODEL,
// VLMJUDGE_TEST_MMPROJ, VLMJUDGE_TEST_IMAGE (as for tests/c/abi_test.c).
import Foundation
import VLMJudge
import XCTest

private struct Boom: Error, Equatable { let value: Int }

final class VLMJudgeTests: XCTestCase {
    private func env(_ name: String) throws -> String {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
            throw XCTSkip("\(name) is not set")
        }
        return v
    }

    private func makeJudge(parallel: UInt32 = 3) throws -> Judge {
        let model = try Model(path: env("VLMJUDGE_TEST_MODEL"), mmproj: env("VLMJUDGE_TEST_MMPROJ"))
        XCTAssertTrue(model.hasVision)
        var params = try JudgeParams()
        params.ctxPerSeq = 384
        params.parallel = parallel
        params.threads = 1
        return try Judge(model: model, params: params)  // the judge keeps the model alive
    }

    private let cat = Pair(id: "cat", question: "How many legs does a cat have?",
                           responseA: "A cat has four legs.", responseB: "A cat has seven legs.")

    func testTextAndImagePairs() throws {
        let judge = try makeJudge()
        let v = try judge.judge(cat)
        XCTAssertNil(v.error)
        XCTAssertEqual(v.id, "cat")
        XCTAssertNotEqual(v.choice, .noVerdict)
        XCTAssertNotNil(v.pA)
        XCTAssertNotNil(v.consistent)
        XCTAssertEqual(v.reasoning, [nil, nil])

        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: env("VLMJUDGE_TEST_IMAGE"))))
        var image = cat
        image.image = png
        XCTAssertNil(try judge.judge(image).error)
        image.image = Array("GIF89? not really".utf8)
        let bad = try judge.judge(image)  // a bad image is on the verdict, not thrown
        XCTAssertNotNil(bad.error)
        XCTAssertEqual(bad.choice, .noVerdict)
        XCTAssertNil(bad.pA)
    }

    func testLoadErrors() {
        XCTAssertThrowsError(try Model(path: "/nonexistent/model.gguf")) { error in
            XCTAssertEqual((error as? VLMJudgeError)?.status, 200)  // VLMJUDGE_ERR_IO
        }
    }

    func testLoraParams() throws {
        let modelPath = try env("VLMJUDGE_TEST_MODEL")
        var params = try ModelParams()
        XCTAssertNil(params.loraPath)  // the library's defaults: no adapter, scale 1
        XCTAssertEqual(params.loraScale, 1)

        params.loraPath = "/nonexistent/adapter.gguf"
        XCTAssertThrowsError(try Model(path: modelPath, params: params)) { error in
            XCTAssertEqual((error as? VLMJudgeError)?.status, 200)  // VLMJUDGE_ERR_IO
            XCTAssertTrue("\(error)".contains("/nonexistent/adapter.gguf"))
        }
        params.loraPath = modelPath  // a GGUF, but not an adapter
        XCTAssertThrowsError(try Model(path: modelPath, params: params)) { error in
            XCTAssertEqual((error as? VLMJudgeError)?.status, 201)  // VLMJUDGE_ERR_INVALID_GGUF
            XCTAssertTrue("\(error)".contains("not a LoRA adapter"))
        }
        params.loraPath = modelPath + "\u{0}x"
        XCTAssertThrowsError(try Model(path: modelPath, params: params)) { error in
            XCTAssertEqual((error as? VLMJudgeError)?.status, 102)  // VLMJUDGE_ERR_INVALID_ARGUMENT
        }
        params.loraPath = nil
        XCTAssertNoThrow(try Model(path: modelPath, params: params))
    }

    func testBatchCancelAndRethrow() throws {
        let judge = try makeJudge()
        let pairs = (0..<6).map { i in
            Pair(id: "b\(i)", question: "Q\(i)?", responseA: "Four.", responseB: "Seven.")
        }
        var seen: [Int] = []
        let out = try judge.judgeBatch(pairs) { done, total in
            XCTAssertEqual(total, 6)
            seen.append(done)
            return true
        }
        XCTAssertEqual(out.map(\.id), pairs.map { $0.id! })
        XCTAssertEqual(seen.last, 6)

        XCTAssertThrowsError(try judge.judgeBatch(pairs) { done, _ in done < 2 }) { error in
            guard let e = error as? VLMJudgeError, case .cancelled = e else {
                return XCTFail("expected .cancelled, got \(error)")
            }
        }
        XCTAssertThrowsError(try judge.judgeBatch(pairs) { done, _ in
            if done == 3 { throw Boom(value: 42) }
            return true
        }) { error in
            XCTAssertEqual(error as? Boom, Boom(value: 42))
        }
        XCTAssertEqual(try judge.judgeBatch(Array(pairs.prefix(2))).count, 2)
    }

    private func assertCancelled<T>(_ body: @autoclosure () throws -> T,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? VLMJudgeError, case .cancelled = e else {
                return XCTFail("expected .cancelled, got \(error)", file: file, line: line)
            }
        }
    }

    // Deterministic: the progress closure, on the judging thread, waits until the other
    // thread's cancel() has returned, so the request is pending when the batch goes on.
    func testCancelFromAnotherThread() throws {
        let judge = try makeJudge(parallel: 2)
        let pairs = (0..<6).map { i in
            Pair(id: "c\(i)", question: "Q\(i)?", responseA: "Four.", responseB: "Seven.")
        }
        let expected = try judge.judgeBatch(pairs).map(\.pA)
        let firstDone = DispatchSemaphore(value: 0)
        let cancelReturned = DispatchSemaphore(value: 0)
        let canceller = Thread {
            firstDone.wait()
            judge.cancel()  // judgeBatch is running on the test's thread
            cancelReturned.signal()
        }
        canceller.start()
        var seen: [Int] = []
        assertCancelled(try judge.judgeBatch(pairs) { done, _ in
            seen.append(done)
            if done == 1 {
                firstDone.signal()
                cancelReturned.wait()
            }
            return true  // never asks to stop: cancel() does
        })
        // At most the pairs in flight with the first (parallel 2) were reported.
        XCTAssertTrue((1...2).contains(seen.count), "\(seen)")
        // The request was used up: the judge works afterwards, with the same results.
        XCTAssertEqual(try judge.judgeBatch(pairs).map(\.pA), expected)

        // With no call running, the next call is cancelled at once, and only that one.
        judge.cancel()
        assertCancelled(try judge.judge(cat))
        XCTAssertNil(try judge.judge(cat).error)
    }
}
