use leakcheck::leak_free;

#[leak_free]
fn opaque() -> impl std::process::Termination {}

fn main() {}
