//! A case export from a possibly dishonest exporter: parse and verify under
//! a fixed key. No input may panic.
#![no_main]

use jishi_ledger::export::{parse_export, verify_export};
use jishi_ledger::SignerKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SignerKey::from_seed("fuzz.example/log", &[1; 32]).expect("key");
    let _ = parse_export(data);
    let _ = verify_export(data, &[key.verifier()]);
});
