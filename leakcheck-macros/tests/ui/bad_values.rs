use leakcheck::leak_free;

#[leak_free(allow = ["localhost:9050"])]
fn host_name() {}

#[leak_free(allow = ["127.0.0.1"])]
fn no_port() {}

#[leak_free(allow = ["::1:9050"])]
fn ipv6_without_brackets() {}

#[leak_free(allow = ["127.0.0.1:9000-80"])]
fn empty_range() {}

#[leak_free(dns = "ignore")]
fn bad_severity() {}

#[leak_free(ip = "no")]
fn ip_not_a_bool() {}

#[leak_free(stand-in = "maybe")]
fn unknown_stand_in_mode() {}

#[leak_free(stand-in = 1)]
fn stand_in_not_a_mode() {}

fn main() {}
