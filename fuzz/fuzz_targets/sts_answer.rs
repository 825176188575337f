#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aws_sso_process_fuzz::sts_answer(data));
