//! `vlmjudge-lab`: generated test models, the loader fuzzer and the procedural world.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
