//! A procedure file given with `--procedure FILE`: a procedure or an error
//! naming a line and a reason, never a panic.
#![no_main]

use jishi_projections::Procedure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Procedure::from_toml_str(text, "fuzz.toml") {
        assert!(e.line >= 1);
        assert!(!e.reason.trim().is_empty(), "an error without a reason: {e}");
    }
});
