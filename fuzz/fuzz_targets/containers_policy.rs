#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imgseal_fuzz::containers_policy(data));
