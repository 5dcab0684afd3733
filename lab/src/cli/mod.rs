//! The lab's commands; they end as `vlmjudge`'s do (`vlmjudge::exit`).

mod dev;
mod world;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vlmjudge-lab", version, about = "vlmjudge's test models, loader fuzzer and procedural world")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Fixture(dev::FixtureArgs),
    Fuzz(dev::FuzzArgs),
    /// Write a procedural image world (pretraining set, prompt pool, held-out pairs,
    /// ground truth), or probe how well a model knows one (--probe).
    World(world::WorldArgs),
}

pub use vlmjudge::exit::UserError;

pub fn main() -> ExitCode {
    vlmjudge::exit::end_quietly_on_closed_pipe();
    let cli: Cli = match vlmjudge::exit::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Fixture(args) => dev::fixture(args),
        Command::Fuzz(args) => dev::fuzz(args),
        Command::World(args) => world::run(args),
    };
    vlmjudge::exit::report(result)
}
