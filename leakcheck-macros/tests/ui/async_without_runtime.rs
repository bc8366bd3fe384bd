use leakcheck::leak_free;

#[leak_free]
async fn needs_a_runtime() {}

#[leak_free]
#[test]
async fn plain_test_is_not_a_runtime() {}

fn main() {}
