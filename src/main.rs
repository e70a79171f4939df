use std::process::ExitCode;

fn main() -> ExitCode {
    feedwatch::cli::main()
}
