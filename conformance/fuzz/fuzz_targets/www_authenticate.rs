//! Any input: the parser returns, never panics, and what it accepts is well-formed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_conformance::www_authenticate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(challenges) = www_authenticate::parse(text) else {
        return;
    };
    assert!(!challenges.is_empty());
    for c in &challenges {
        assert!(!c.scheme.is_empty());
        assert!(c.token68.is_none() || c.params.is_empty());
        for (i, (name, _)) in c.params.iter().enumerate() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(c.params[..i].iter().all(|(n, _)| n != name));
        }
    }
});
