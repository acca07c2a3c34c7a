//! OAuth scopes (RFC 6749 section 3.3): space-separated, case-sensitive strings.

use std::fmt;

use crate::resource::ResourceUri;

/// A set of scopes, in the order they were given, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a `scope` value; extra spaces are tolerated, empty entries dropped.
    pub fn parse(value: &str) -> Self {
        let mut scopes: Vec<String> = Vec::new();
        for s in value.split(' ').filter(|s| !s.is_empty()) {
            if !scopes.iter().any(|have| have == s) {
                scopes.push(s.to_owned());
            }
        }
        Self(scopes)
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every scope here is also in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.iter().any(|o| o == s))
    }

    /// The same scopes as `other`, whatever their order.
    pub fn same_as(&self, other: &ScopeSet) -> bool {
        self.is_subset_of(other) && other.is_subset_of(self)
    }

    /// Whether `required` is granted, either as is or in Cognito's resource-server form
    /// `<resource identifier>/<scope>` (Cognito names custom scopes that way in tokens). Scopes
    /// are opaque strings: the identifier must be the resource URI exactly, not a URL that
    /// normalises to it.
    pub fn grants(&self, required: &str, resource: &ResourceUri) -> bool {
        self.iter().any(|s| {
            s == required
                || s.strip_suffix(required)
                    .and_then(|prefix| prefix.strip_suffix('/'))
                    .is_some_and(|identifier| identifier == resource.as_str())
        })
    }

    /// Whether any scope is one of the resource server's, `<resource>/<name>`, with the
    /// resource URI written exactly.
    pub fn any_under(&self, resource: &ResourceUri) -> bool {
        self.iter().any(|s| {
            s.strip_prefix(resource.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        })
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

// Stored and sent as the RFC 6749 string form.
impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(deserializer)?))
    }
}

impl<'a> FromIterator<&'a str> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Self::parse(&iter.into_iter().collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> ResourceUri {
        "http://localhost:8080/mcp".parse().unwrap()
    }

    #[test]
    fn parse_drops_empties_and_duplicates() {
        let s = ScopeSet::parse("  mcp:read  mcp:read mcp:write ");
        assert_eq!(s.to_string(), "mcp:read mcp:write");
        assert!(ScopeSet::parse("").is_empty());
    }

    #[test]
    fn grants_plain_and_cognito_forms_only_for_this_resource() {
        let plain = ScopeSet::parse("mcp:read");
        assert!(plain.grants("mcp:read", &resource()));
        assert!(!plain.grants("mcp:write", &resource()));
        let cognito = ScopeSet::parse("openid http://localhost:8080/mcp/mcp:read");
        assert!(cognito.grants("mcp:read", &resource()));
        assert!(!cognito.grants("mcp:write", &resource()));
        let other = ScopeSet::parse("https://other.example.com/mcp/mcp:read");
        assert!(
            !other.grants("mcp:read", &resource()),
            "another resource's scope"
        );
        let tricky = ScopeSet::parse("xmcp:read");
        assert!(!tricky.grants("mcp:read", &resource()));
    }

    #[test]
    fn any_under_finds_resource_server_scopes() {
        assert!(
            ScopeSet::parse("openid http://localhost:8080/mcp/mcp:read").any_under(&resource())
        );
        assert!(!ScopeSet::parse("openid email").any_under(&resource()));
        assert!(!ScopeSet::parse("https://evil.example/mcp/mcp:read").any_under(&resource()));
        assert!(!ScopeSet::parse("http://localhost:8080/mcp/").any_under(&resource()));
    }

    #[test]
    fn the_resource_identifier_is_matched_exactly_not_normalised() {
        for alias in [
            "http://localhost:8080/x/../mcp",
            "HTTP://LOCALHOST:8080/mcp",
            "http://localhost:8080/./mcp",
            "http://localhost:8080/mcp/x",
        ] {
            let scopes = ScopeSet::parse(&format!("{alias}/mcp:read"));
            assert!(!scopes.any_under(&resource()), "{alias}");
            assert!(!scopes.grants("mcp:read", &resource()), "{alias}");
        }
        let loopback: ResourceUri = "http://127.0.0.1:8080/mcp".parse().unwrap();
        let decimal = ScopeSet::parse("http://2130706433:8080/mcp/mcp:read");
        assert!(!decimal.any_under(&loopback));
        assert!(!decimal.grants("mcp:read", &loopback));
    }
}
