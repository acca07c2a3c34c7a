//! Which scopes a client asks for (MCP Authorization, Scope Selection Strategy and Step-Up
//! Authorization Flow): the challenge's `scope`, else every scope the Protected Resource
//! Metadata lists, else none; on a 403 `insufficient_scope`, the union of what was asked for
//! before and what the challenge names.

/// A set of scopes in the order they were first asked for (the `scope` parameter's order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// The scopes of a space-separated `scope` value (RFC 6749 §3.3), duplicates dropped.
    pub fn parse(value: &str) -> Self {
        let mut scopes = Self::default();
        scopes.add(value);
        scopes
    }

    /// Adds the scopes of a space-separated value that are not there yet; whether any was new.
    pub fn add(&mut self, value: &str) -> bool {
        let mut grew = false;
        for scope in value.split_whitespace() {
            if !self.0.iter().any(|s| s == scope) {
                self.0.push(scope.to_owned());
                grew = true;
            }
        }
        grew
    }

    /// The union with `other` (SEP-2350: previously requested scopes are kept).
    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut all = self.clone();
        all.add(&other.to_string());
        all
    }

    /// Whether every scope of `other` is already here.
    pub fn covers(&self, other: &Scopes) -> bool {
        other.0.iter().all(|s| self.0.contains(s))
    }

    /// Whether there is no scope at all (the `scope` parameter is then left out).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `scope` is one of them.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The `scope` parameter, or `None` when there is nothing to ask for.
    pub fn parameter(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.to_string())
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// The scope refresh tokens are asked for with (OpenID Connect Core §11; SEP-2207).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The initial scope selection: the challenge's `scope` if it has one, else all of the PRM's
/// `scopes_supported`, else nothing (the parameter is omitted).
pub fn initial(
    challenge_scope: Option<&str>,
    prm: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Scopes {
    if let Some(scope) = challenge_scope.filter(|s| !s.trim().is_empty()) {
        return Scopes::parse(scope);
    }
    let listed: Vec<&str> = prm
        .and_then(|p| p.get("scopes_supported"))
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    Scopes::parse(&listed.join(" "))
}

/// Whether the authorization server's metadata lists `offline_access` in `scopes_supported`:
/// only then may a client that wants refresh tokens add it (MCP 2026-07-28, Refresh Tokens),
/// and never otherwise.
pub fn offline_access_offered(as_metadata: &serde_json::Map<String, serde_json::Value>) -> bool {
    as_metadata
        .get("scopes_supported")
        .and_then(|s| s.as_array())
        .is_some_and(|a| a.iter().any(|s| s == OFFLINE_ACCESS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_wins_then_the_prm_then_nothing() {
        let prm = serde_json::json!({"scopes_supported": ["mcp:basic", "mcp:read"]});
        let prm = prm.as_object();
        assert_eq!(
            initial(Some("files:read"), prm).parameter().as_deref(),
            Some("files:read")
        );
        assert_eq!(
            initial(None, prm).parameter().as_deref(),
            Some("mcp:basic mcp:read")
        );
        assert_eq!(
            initial(Some("  "), prm).parameter().as_deref(),
            Some("mcp:basic mcp:read")
        );
        assert_eq!(
            initial(None, Some(&serde_json::Map::new())).parameter(),
            None
        );
        assert_eq!(initial(None, None).parameter(), None);
    }

    #[test]
    fn a_step_up_keeps_what_was_asked_before() {
        let before = Scopes::parse("mcp:basic");
        let challenged = Scopes::parse("mcp:write");
        let union = before.union(&challenged);
        assert_eq!(union.to_string(), "mcp:basic mcp:write");
        assert!(union.covers(&challenged) && !before.covers(&challenged));
        // Asking again for what was already asked cannot get further: no retry.
        assert!(union.covers(&Scopes::parse("mcp:write mcp:basic")));
        assert_eq!(Scopes::parse("a a b").to_string(), "a b");
    }

    #[test]
    fn offline_access_only_when_the_as_lists_it() {
        let listed = serde_json::json!({"scopes_supported": ["mcp:basic", "offline_access"]});
        let unlisted = serde_json::json!({"scopes_supported": ["mcp:basic"]});
        assert!(offline_access_offered(listed.as_object().unwrap()));
        assert!(!offline_access_offered(unlisted.as_object().unwrap()));
        assert!(!offline_access_offered(&serde_json::Map::new()));
    }
}
