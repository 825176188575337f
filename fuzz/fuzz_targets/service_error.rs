#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aws_sso_process_fuzz::service_error(data));
