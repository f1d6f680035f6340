//! A signed note (a checkpoint anyone may hand over): parse and open under
//! a fixed key. No input may panic; what parses renders back to itself.
#![no_main]

use jishi_ledger::{Note, SignerKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SignerKey::from_seed("fuzz.example/log", &[1; 32]).expect("key");
    let _ = jishi_ledger::note::open(data, &[key.verifier()]);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(note) = Note::parse(text) {
            let rendered = note.to_string();
            let back = Note::parse(&rendered).expect("a rendered note parses");
            assert_eq!(back.to_string(), rendered);
        }
    }
});
