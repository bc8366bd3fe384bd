use leakcheck::leak_free;

#[leak_free]
fn takes_an_argument(port: u16) {
    let _ = port;
}

fn main() {}
