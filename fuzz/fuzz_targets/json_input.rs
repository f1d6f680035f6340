//! An event line as `jishi append`/`import` read it: parse, check every
//! field, canonicalise the payload. No input may panic; a payload that is
//! accepted must be a fixed point of canonicalisation.
#![no_main]

use jishi_ledger::canonical::{canonical_json, parse_strict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = parse_strict(text) {
        let once = canonical_json(&value);
        let again = parse_strict(&once).expect("canonical output parses");
        assert_eq!(canonical_json(&again), once, "canonical form is a fixed point");
    }
    if let Ok(request) = jishi_ledger::input::request_from_json(text, None) {
        for event in request.events {
            let _ = jishi_ledger::prepare::prepare(event, chrono::Utc::now());
        }
    }
});
