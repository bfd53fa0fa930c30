#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../../tests/common/fuzz_check.rs");

fuzz_target!(|data: &[u8]| check(data));
