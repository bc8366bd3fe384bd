use leakcheck::leak_free;

#[leak_free(alow = ["127.0.0.1:9050"])]
fn misspelled() {}

#[leak_free(allow = ["127.0.0.1:9050"], allow = [])]
fn twice() {}

#[leak_free(ip)]
fn no_value() {}

fn main() {}
