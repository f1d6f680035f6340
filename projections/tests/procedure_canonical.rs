//! D65: the canonical text an election records for its procedure loads back
//! into the very procedure it was written from, whatever the names, labels
//! and numbers hold (quotes, new lines, control characters, any ratio), so
//! replay judges under exactly what the recorder used.

use jishi_projections::Procedure;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_canonical_text_loads_back_equal_with_the_same_digest(
        kind in 0usize..3,
        name in any::<String>(),
        description in any::<String>(),
        label in "[^\\s]\\PC{0,12}[\"'\\\\\n\t]?",
        ratio in 0.0f64..10.0,
        days in 1u32..400,
        optional in any::<bool>(),
    ) {
        let mut p = Procedure::builtins().expect("builtins")[kind].clone();
        p.name = name;
        p.description = description;
        p.roles[0].label = label;
        p.min_differential_ratio = ratio;
        p.publicity_working_days = days;
        // The last step is never a predecessor by default, so it may be optional.
        if let Some(last) = p.steps.last_mut() {
            last.mandatory = !optional;
        }
        let text = p.canonical_toml();
        let back = Procedure::from_toml_str(&text, "<canonical>");
        prop_assert!(back.is_ok(), "{:?}\n{}", back.err(), text);
        let back = back.expect("checked");
        prop_assert_eq!(back.canonical_toml(), text.clone());
        prop_assert_eq!(back.digest(), p.digest());
        prop_assert_eq!(back, p);
    }
}
