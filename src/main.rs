//! The `tollgate` binary: Lambda mode when `AWS_LAMBDA_RUNTIME_API` is set and no subcommand
//! is given, otherwise the local CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tollgate: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    if args.is_empty() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        match runtime.block_on(tollgate::lambda::serve()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e}");
                ExitCode::from(tollgate::cli::EXIT_USAGE)
            }
        }
    } else {
        runtime.block_on(tollgate::cli::run(args))
    }
}
