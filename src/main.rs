//! The `po3ad` binary: a thin shell over [`po3ad::cli`].

fn main() -> std::process::ExitCode {
    po3ad::cli::main()
}
