fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cargo_leakcheck::main_entry())
}
