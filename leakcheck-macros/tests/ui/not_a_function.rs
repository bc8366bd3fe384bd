use leakcheck::leak_free;

#[leak_free]
struct NotATest;

fn main() {}
