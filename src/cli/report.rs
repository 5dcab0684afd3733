use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct ReportArgs {
    /// The run directory of `vlmjudge improve` (holding round-0/, round-1/, ...).
    run: PathBuf,
    /// Only print the table; write no files.
    #[arg(long)]
    no_write: bool,
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let report = vlmjudge::report::report(&args.run)?;
    print!("{}", vlmjudge::report::to_text(&report));
    if !args.no_write {
        let written = vlmjudge::report::write_report(&args.run, &report)?;
        println!();
        for path in written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
