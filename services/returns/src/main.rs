fn main() -> std::process::ExitCode {
    aftersales_platform::app::main::<aftersales_returns::Returns>()
}
