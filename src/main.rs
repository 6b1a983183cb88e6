//! The `tollgate` command line. With `AWS_LAMBDA_RUNTIME_API` set and no arguments it runs
//! Lambda mode, as the deployed `tollgate-lambda` binary does.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return tollgate::lambda::main();
    }
    tollgate::lambda::run_to_exit(tollgate::cli::run(args))
}
