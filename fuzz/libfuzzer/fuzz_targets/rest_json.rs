//! libFuzzer entry for `weft_fuzz::rest_json` (see that function for what it checks).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::rest_json(data));
