//! The repairs service binary: `serve` and `migrate`.

fn main() -> std::process::ExitCode {
    aftersales_platform::app::main::<aftersales_repairs::Repairs>()
}
