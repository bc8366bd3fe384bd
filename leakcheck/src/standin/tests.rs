//! Loopback tests of the stand-in.
