//! libFuzzer entry for `weft_fuzz::bus_envelope` (see that function for what it checks).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::bus_envelope(data));
