// Judge one pair with the C++ wrapper (bindings/cpp/vlmjudge.hpp).
// Build: c++ -std=c++17 -I../../bindings/cpp judge.cpp $(pkg-config --cflags --libs vlmjudge)
// Usage: ./judge MODEL.gguf
#include <iomanip>
#include <iostream>

#include "vlmjudge.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " MODEL.gguf\n";
        return 2;
    }
    try {
        const vlmjudge::Model model(argv[1]);
        vlmjudge::Judge judge(model);
        const vlmjudge::Verdict v = judge.judge(vlmjudge::Pair::text(
            "cat-legs", "How many legs does a cat have?", "A cat has four legs.",
            "A cat has seven legs."));
        if (v.error) {
            std::cerr << "pair " << v.id << " failed: " << *v.error << "\n";
            return 1;
        }
        std::cout << v.id << ": verdict " << vlmjudge::to_string(v.choice)
                  << ", p(A) = " << std::fixed << std::setprecision(3) << *v.p_a << ", consistent: "
                  << (!v.consistent ? "unknown" : *v.consistent ? "yes" : "no") << "\n";
        return 0;
    } catch (const vlmjudge::Error &e) {
        std::cerr << "error (" << e.status_name() << "): " << e.what() << "\n";
        return 1;
    }
}
