//! The deployed Lambda function (`bootstrap` in the SAM build): Lambda mode and nothing else,
//! so the command line, `serve` and the report stay out of its cold start.

fn main() -> std::process::ExitCode {
    tollgate::lambda::main()
}
