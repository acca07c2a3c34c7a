//! A strict parser for `WWW-Authenticate` (RFC 9110 section 11.6.1): several challenges per field
//! value and per response, token68 or auth-params, quoted strings with escapes.
//!
//! Strict on purpose: the tester reports what a careful client would trip on, so a missing comma
//! or a duplicated parameter is an error, not something to guess around.

use std::fmt;

/// One challenge: a scheme and either a token68 or parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare with [`Challenge::is_scheme`]: schemes are case-insensitive).
    pub scheme: String,
    /// The token68, for schemes that use one (e.g. `Negotiate abc==`).
    pub token68: Option<String>,
    /// Parameters in order; names lower-cased (they are case-insensitive), values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether the scheme is `scheme`, ignoring case.
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// A parameter's value by name, ignoring case.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where and why a header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the header value.
    pub position: usize,
    /// What was wrong there.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.position, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses the challenges of every `WWW-Authenticate` field value, in order.
pub fn parse_all<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ParseError> {
    let mut all = Vec::new();
    for value in values {
        all.extend(parse(value)?);
    }
    Ok(all)
}

/// Parses one `WWW-Authenticate` field value.
pub fn parse(value: &str) -> Result<Vec<Challenge>, ParseError> {
    Parser {
        s: value.as_bytes(),
        pos: 0,
    }
    .challenges()
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.pos,
            reason: reason.into(),
        })
    }

    /// OWS / BWS: optional spaces and tabs.
    fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    /// Skips empty list elements (`, ,`), which RFC 9110 section 5.6.1 says recipients accept.
    fn skip_commas(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    fn challenges(mut self) -> Result<Vec<Challenge>, ParseError> {
        let mut out = Vec::new();
        self.skip_commas();
        while !self.at_end() {
            out.push(self.challenge()?);
            self.skip_commas();
        }
        if out.is_empty() {
            return self.err("no challenge");
        }
        Ok(out)
    }

    fn challenge(&mut self) -> Result<Challenge, ParseError> {
        let Some(scheme) = self.token() else {
            return self.err("expected an auth-scheme");
        };
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let spaces = self.skip_ws();
        if self.at_end() || self.peek() == Some(b',') {
            return Ok(challenge);
        }
        if spaces == 0 {
            return self.err(format!(
                "expected a space after the scheme {:?}",
                challenge.scheme
            ));
        }
        if let Some(token68) = self.token68() {
            challenge.token68 = Some(token68);
            return self.end_of_challenge(challenge);
        }
        loop {
            let (name, value) = self.auth_param()?;
            if challenge.param(&name).is_some() {
                return self.err(format!(
                    "parameter {name:?} occurs twice in one challenge (RFC 9110 section 11.2)"
                ));
            }
            challenge.params.push((name, value));
            // After a comma comes either another parameter or the next challenge.
            self.skip_ws();
            if self.at_end() {
                return Ok(challenge);
            }
            if self.peek() != Some(b',') {
                return self.err("expected a comma between parameters");
            }
            let before_comma = self.pos;
            self.skip_commas();
            if self.at_end() || !self.next_is_auth_param() {
                self.pos = before_comma;
                return Ok(challenge);
            }
        }
    }

    fn end_of_challenge(&mut self, challenge: Challenge) -> Result<Challenge, ParseError> {
        self.skip_ws();
        if self.at_end() || self.peek() == Some(b',') {
            Ok(challenge)
        } else {
            self.err("expected a comma after the token68")
        }
    }

    /// A token68 stands alone: followed by the end or a comma, never by `= value`.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_token68_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let end = self.pos;
        self.skip_ws();
        if self.at_end() || self.peek() == Some(b',') {
            // `name=value` also matches token68's characters; a token68 has no value after '='.
            let text = &self.s[start..end];
            let is_param = text
                .iter()
                .position(|&b| b == b'=')
                .is_some_and(|eq| eq + 1 < text.len() && text[eq + 1] != b'=');
            if !is_param {
                self.pos = end;
                return Some(String::from_utf8_lossy(text).into_owned());
            }
        }
        self.pos = start;
        None
    }

    fn next_is_auth_param(&mut self) -> bool {
        let start = self.pos;
        let is_param = self.token().is_some() && {
            self.skip_ws();
            self.peek() == Some(b'=')
        };
        self.pos = start;
        is_param
    }

    fn auth_param(&mut self) -> Result<(String, String), ParseError> {
        let Some(name) = self.token() else {
            return self.err("expected a parameter name");
        };
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return self.err(format!("expected '=' after the parameter name {name:?}"));
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            match self.token() {
                Some(v) => v,
                None => return self.err(format!("parameter {name:?} has no value")),
            }
        };
        Ok((name.to_ascii_lowercase(), value))
    }

    fn quoted_string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return self.err("unterminated quoted string");
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || b == b' ' || b >= 0x21 && b != 0x7f => {
                            out.push(b);
                            self.pos += 1;
                        }
                        _ => return self.err("invalid escape in quoted string"),
                    }
                }
                Some(b) if b == b'\t' || b == b' ' || b >= 0x21 && b != 0x7f => {
                    out.push(b);
                    self.pos += 1;
                }
                Some(_) => return self.err("control character in quoted string"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_bearer_challenge() {
        let c = parse(
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write""#,
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].is_scheme("bearer"));
        assert_eq!(
            c[0].param("resource_metadata"),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c[0].param("SCOPE"), Some("mcp:read mcp:write"));
    }

    #[test]
    fn several_challenges_with_commas_inside_quotes() {
        let c = parse(r#"Basic realm="a, b", Bearer error="invalid_token", error_description="bad, \"very\" bad", Newauth"#)
            .unwrap();
        let schemes: Vec<_> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "Newauth"]);
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[1].param("error_description"), Some(r#"bad, "very" bad"#));
        assert!(c[2].params.is_empty());
    }

    #[test]
    fn token68_and_its_padding() {
        let c = parse("Negotiate abc+/9==, Bearer").unwrap();
        assert_eq!(c[0].token68.as_deref(), Some("abc+/9=="));
        assert!(c[1].is_scheme("Bearer"));
        let c = parse("Bearer realm=x").unwrap();
        assert_eq!(
            c[0].token68, None,
            "name=value is a parameter, not a token68"
        );
        assert_eq!(c[0].param("realm"), Some("x"));
        // Grammatical, if surprising: "scope=" is a token68 (1*token68-char *"=").
        let c = parse("Bearer scope=").unwrap();
        assert_eq!(c[0].token68.as_deref(), Some("scope="));
    }

    #[test]
    fn whitespace_around_equals_and_empty_list_elements() {
        let c = parse(r#" , Bearer  scope = "a"  ,, error=invalid_token ,"#).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("scope"), Some("a"));
        assert_eq!(c[0].param("error"), Some("invalid_token"));
    }

    #[test]
    fn several_field_values() {
        let c = parse_all(["Basic realm=\"x\"", "Bearer scope=\"s\""]).unwrap();
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn malformed_values_are_errors_with_positions() {
        for bad in [
            "",
            "   ",
            "Bearer scope=\"unterminated",
            "Bearer scope=\"a\" error=\"b\"",
            "Bearer scope=\"a\", scope=\"b\"",
            "Bearer =x",
            "Bearer scope=\"a\\\u{1}\"",
            "Bearer\u{1}",
            "Bearer scope=\"tab\u{7f}\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed as {:?}", parse(bad));
        }
        let err = parse("Bearer scope=\"a\" error=\"b\"").unwrap_err();
        assert_eq!(err.position, 17);
        assert!(err.to_string().contains("comma"), "{err}");
    }

    /// Deterministic random inputs from the characters that matter to the grammar: the parser
    /// never panics, and whatever it accepts is well-formed.
    #[test]
    fn random_inputs_never_panic_and_accepted_ones_are_well_formed() {
        const ALPHABET: &[char] = &[
            'B', 'e', 'a', 'r', 'x', 'Z', '0', '9', '=', ',', '"', '\\', ' ', '\t', '!', '#', '~',
            '+', '/', '.', '-', '_', ':', ';', '\u{1}', '\u{7f}', 'é', '\n',
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let input: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            if let Ok(challenges) = parse(&input) {
                accepted += 1;
                assert!(!challenges.is_empty(), "{input:?}");
                for c in &challenges {
                    assert!(
                        !c.scheme.is_empty() && c.scheme.bytes().all(is_tchar),
                        "{input:?}: {c:?}"
                    );
                    for (i, (name, _)) in c.params.iter().enumerate() {
                        assert!(
                            name.bytes().all(is_tchar) && *name == name.to_ascii_lowercase(),
                            "{input:?}: {c:?}"
                        );
                        assert!(
                            c.params[..i].iter().all(|(n, _)| n != name),
                            "duplicate in {input:?}"
                        );
                    }
                    assert!(c.token68.is_none() || c.params.is_empty(), "{input:?}");
                }
            }
        }
        // The inputs must reach the accepting paths too, or the test proves little.
        assert!(accepted > 500, "only {accepted} inputs parsed");
    }
}
