fn main() -> std::process::ExitCode {
    aftersales_platform::app::main::<aftersales_orchestrator::Orchestrator>()
}
