//! Template parameters from command-line flags.
//!
//! A flag left out keeps the value the stack already has (UsePreviousValue) on an update, and the
//! template default on a create, so re-running `deploy` without flags never resets a setting.

use aws_sdk_cloudformation::types::Parameter;
use clap::Args;
use mcp_auth_server::resource::ResourceUri;
use sha2::{Digest, Sha256};

use super::StackName;

/// Longest resource URI Cognito can take: each client scope `<ResourceUri>/mcp:write` must fit
/// in 256 characters.
pub const MAX_RESOURCE_URI: usize = 256 - "/mcp:write".len();

/// Longest managed login domain prefix Cognito takes.
pub const MAX_DOMAIN_PREFIX: usize = 63;

/// A `--resource-uri` as given, and the canonical form `deploy` sends (the server's own rules:
/// lower-case scheme and host, no default port, no lone trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUriFlag {
    /// What was typed.
    pub given: String,
    /// What the stack gets.
    pub canonical: ResourceUri,
}

/// Flags that set template parameters; every one is optional.
#[derive(Debug, Clone, Default, Args)]
pub struct StackParameterFlags {
    /// The MCP server's canonical resource URI (RFC 8707): the resource server identifier, and
    /// the `aud` of access tokens [template default: http://localhost:8080/mcp]
    #[arg(long, value_name = "URL", value_parser = resource_uri)]
    pub resource_uri: Option<ResourceUriFlag>,
    /// The bundled server's OAuth callback, registered on the facade's upstream client
    /// [template default: http://localhost:8080/oauth/callback]
    #[arg(long, value_name = "URL", value_parser = callback_url)]
    pub callback_url: Option<String>,
    /// Callback URLs of the pre-registered example client, comma separated
    /// [template default: http://localhost:3000/callback]
    #[arg(long, value_name = "URL,...", value_delimiter = ',', value_parser = callback_url)]
    pub example_callback_urls: Option<Vec<String>>,
    /// Managed login domain prefix; fixed once the stack exists [default at create: <stack
    /// name>-<8 hex digits of a hash of the account id and region>]
    #[arg(long, value_name = "PREFIX", value_parser = domain_prefix)]
    pub domain_prefix: Option<String>,
    /// Let people create their own accounts on the managed login pages [template default: false]
    #[arg(long, value_name = "BOOL")]
    pub self_sign_up: Option<bool>,
    /// Access (and ID) token lifetime in minutes, 5 to 1440 [template default: 60]
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(5..=1440))]
    pub access_token_minutes: Option<u32>,
}

impl StackParameterFlags {
    /// The parameters the flags set, as template keys and values.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        let mut given = Vec::new();
        if let Some(v) = &self.resource_uri {
            given.push(("ResourceUri", v.canonical.to_string()));
        }
        if let Some(v) = &self.callback_url {
            given.push(("UpstreamCallbackUrl", v.clone()));
        }
        if let Some(v) = &self.example_callback_urls {
            given.push(("ExampleClientCallbackUrls", v.join(",")));
        }
        if let Some(v) = &self.domain_prefix {
            given.push(("DomainPrefix", v.clone()));
        }
        if let Some(v) = self.self_sign_up {
            given.push(("SelfSignUp", v.to_string()));
        }
        if let Some(v) = self.access_token_minutes {
            given.push(("AccessTokenValidityMinutes", v.to_string()));
        }
        given
    }
}

/// The domain prefix `deploy` picks at create when none is given: `<stack>-<8 hex digits>`, the
/// digits from a hash of the account id and region, so the public sign-in URL is unique per
/// account and region without showing the account id (a hash hides it from a glance, it is not
/// a secret: account ids are few enough to be tried).
pub fn default_domain_prefix(
    stack: &StackName,
    account: &str,
    region: &str,
) -> Result<String, String> {
    let digest = Sha256::digest(format!("mcp-auth-kit domain prefix\n{account}\n{region}"));
    let suffix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = format!("{}-{suffix}", stack.as_str());
    let longest_name = MAX_DOMAIN_PREFIX - 1 - suffix.len();
    let name = stack.as_str();
    if name.len() > longest_name {
        return Err(format!(
            "the default managed login domain prefix is \"<stack name>-<8 hex digits>\", and \
             stack name {name:?} has {} characters: Cognito takes {MAX_DOMAIN_PREFIX} at most, so \
             the stack name may have {longest_name}. Pass --domain-prefix, or use a shorter \
             --stack-name",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "the default managed login domain prefix is \"<stack name>-<8 hex digits>\", and \
             stack name {name:?} has upper-case letters, which Cognito refuses: pass \
             --domain-prefix, or use a lower-case --stack-name"
        ));
    }
    if let Some(word) = reserved_word(name) {
        return Err(format!(
            "the default managed login domain prefix is \"<stack name>-<8 hex digits>\", and \
             Cognito refuses prefixes containing {word:?}: pass --domain-prefix, or choose \
             another --stack-name"
        ));
    }
    domain_prefix(&prefix)
}

/// The parameter list for a create (`previous` empty) or an update of a stack deployed with the
/// parameter keys `previous`.
pub fn parameter_list(given: &[(&'static str, String)], previous: &[String]) -> Vec<Parameter> {
    let mut list: Vec<Parameter> = given
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(*key)
                .parameter_value(value)
                .build()
        })
        .collect();
    for key in previous {
        if !given.iter().any(|(k, _)| k == key) {
            list.push(
                Parameter::builder()
                    .parameter_key(key)
                    .use_previous_value(true)
                    .build(),
            );
        }
    }
    list
}

/// Parses `--resource-uri`: canonical by the server's rules, and within what Cognito binds
/// tokens to and the template's `AllowedPattern` takes (tests/template_rules.rs holds the two
/// to the same answers).
fn resource_uri(s: &str) -> Result<ResourceUriFlag, String> {
    let canonical: ResourceUri = s.parse().map_err(|e| format!("{e}"))?;
    let url = url::Url::parse(canonical.as_str()).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https"
            if host
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') => {}
        "https" => {
            return Err(format!(
                "the host {host:?} is not a DNS name: use lower-case letters, digits, dots and \
                 hyphens"
            ));
        }
        _ if host == "localhost" => {}
        _ => {
            return Err(
                "Cognito binds tokens to https URIs, and to plain http only on localhost \
                 (http://localhost:PORT/mcp)"
                    .into(),
            );
        }
    }
    if url.port() == Some(0) {
        return Err("port 0 is not a port a server can be reached on".into());
    }
    if has_dot_segment(s) {
        // The URL parser would resolve them, so the URI typed would not be the one bound.
        return Err("a resource URI's path has no \".\" or \"..\" segments".into());
    }
    let path = url.path();
    if let Some(c) = path.chars().find(|c| !is_path_char(*c)) {
        return Err(format!(
            "the path has {c:?}, which Cognito's scope names do not take: percent-encode it"
        ));
    }
    if canonical.as_str().len() > MAX_RESOURCE_URI {
        return Err(format!(
            "the canonical resource URI has {} characters; Cognito takes {MAX_RESOURCE_URI} at \
             most (each scope, \"<resource URI>/mcp:write\", must fit in 256)",
            canonical.as_str().len()
        ));
    }
    Ok(ResourceUriFlag {
        given: s.to_owned(),
        canonical,
    })
}

/// Whether the path of `raw` has a `.` or `..` segment, percent-encoded or not.
fn has_dot_segment(raw: &str) -> bool {
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// RFC 3986 `pchar` and `/`: what a path holds without percent-encoding.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/".contains(c)
}

/// Parses a callback URL; returns it as the URL parser writes it (lower-case scheme and host, a
/// path of at least "/"), which is what the template's pattern expects.
fn callback_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err("a redirect URI has no fragment (RFC 6749 section 3.1.2)".into());
    }
    match (url.scheme(), url.host_str()) {
        ("https", _) | ("http", Some("localhost")) => Ok(url.into()),
        _ => Err("Cognito takes https callback URLs, or http only on localhost".into()),
    }
}

fn domain_prefix(s: &str) -> Result<String, String> {
    let shape_ok = !s.is_empty()
        && s.len() <= MAX_DOMAIN_PREFIX
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if !shape_ok {
        return Err("use 1 to 63 lower-case letters, digits and inner hyphens".into());
    }
    if let Some(word) = reserved_word(s) {
        return Err(format!(
            "Cognito refuses domain prefixes containing {word:?}"
        ));
    }
    Ok(s.to_owned())
}

fn reserved_word(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    ["aws", "amazon", "cognito"]
        .into_iter()
        .find(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_keeps_previous_values_of_flags_left_out() {
        let given = vec![("ResourceUri", "https://mcp.example.com/mcp".to_owned())];
        let previous = vec!["ResourceUri".to_owned(), "SelfSignUp".to_owned()];
        let list = parameter_list(&given, &previous);
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].parameter_value(),
            Some("https://mcp.example.com/mcp")
        );
        assert_eq!(list[1].parameter_key(), Some("SelfSignUp"));
        assert_eq!(list[1].use_previous_value(), Some(true));
    }

    #[test]
    fn create_sends_only_what_was_given() {
        assert!(parameter_list(&[], &[]).is_empty());
    }

    #[test]
    fn urls_are_checked() {
        assert!(resource_uri("https://mcp.example.com/mcp").is_ok());
        assert!(resource_uri("https://mcp.example.com/mcp#x").is_err());
        assert!(resource_uri("mcp.example.com").is_err());
        assert_eq!(
            callback_url("http://localhost:8080/oauth/callback").as_deref(),
            Ok("http://localhost:8080/oauth/callback")
        );
        assert!(callback_url("http://127.0.0.1:8080/cb").is_err());
        assert_eq!(
            callback_url("HTTPS://App.Example.com").as_deref(),
            Ok("https://app.example.com/")
        );
    }

    fn canonical(s: &str) -> Result<String, String> {
        resource_uri(s).map(|f| f.canonical.to_string())
    }

    #[test]
    fn resource_uris_are_canonicalised_as_the_server_does() {
        for (given, expected) in [
            ("https://mcp.example.com/", "https://mcp.example.com"),
            ("https://MCP.example.com/mcp", "https://mcp.example.com/mcp"),
            (
                "HTTPS://mcp.example.com:443/mcp",
                "https://mcp.example.com/mcp",
            ),
            ("http://localhost:80/mcp", "http://localhost/mcp"),
            ("http://LOCALHOST:8080", "http://localhost:8080"),
            (
                "https://mcp.example.com/mcp/",
                "https://mcp.example.com/mcp/",
            ),
        ] {
            assert_eq!(canonical(given).as_deref(), Ok(expected), "{given}");
            let server: ResourceUri = given.parse().unwrap();
            assert_eq!(server.as_str(), expected, "the server's rules, for {given}");
        }
    }

    #[test]
    fn resource_uris_cognito_cannot_bind_are_refused() {
        for bad in [
            "http://mcp.example.com/mcp",
            "http://127.0.0.1:8080/mcp",
            "https://mcp.example.com/mcp?x=1",
            "https://[::1]/mcp",
            "https://under_score.example.com/mcp",
            "https://mcp.example.com:0/mcp",
            "https://mcp.example.com/a/../mcp",
            "https://mcp.example.com/a/%2E/mcp",
            "https://mcp.example.com/a|b",
            "ftp://mcp.example.com/mcp",
        ] {
            assert!(resource_uri(bad).is_err(), "{bad} accepted");
        }
        let longest = format!("https://e.com/{}", "a".repeat(MAX_RESOURCE_URI - 14));
        assert_eq!(longest.len(), MAX_RESOURCE_URI);
        assert!(resource_uri(&longest).is_ok());
        let err = resource_uri(&format!("{longest}a")).unwrap_err();
        assert!(err.contains("246 at most"), "{err}");
    }

    #[test]
    fn domain_prefixes_follow_cognito_rules() {
        assert!(domain_prefix("my-mcp-123").is_ok());
        for bad in [
            "",
            "Upper",
            "-lead",
            "trail-",
            "my-aws-pool",
            "amazonish",
            "x".repeat(64).as_str(),
        ] {
            assert!(domain_prefix(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_default_prefix_hides_the_account_and_fits_cognito() {
        let stack: StackName = "mcp-auth-kit".parse().unwrap();
        let prefix = default_domain_prefix(&stack, "123456789012", "us-east-1").unwrap();
        assert!(prefix.starts_with("mcp-auth-kit-"), "{prefix}");
        assert_eq!(prefix.len(), "mcp-auth-kit-".len() + 8);
        assert!(!prefix.contains("123456789012"), "{prefix}");
        assert_eq!(
            default_domain_prefix(&stack, "123456789012", "us-east-1").unwrap(),
            prefix,
            "the same account and region give the same prefix"
        );
        assert_ne!(
            default_domain_prefix(&stack, "123456789012", "eu-west-1").unwrap(),
            prefix
        );
        let longest: StackName = format!("a{}", "b".repeat(53)).parse().unwrap();
        assert_eq!(
            default_domain_prefix(&longest, "1", "us-east-1")
                .unwrap()
                .len(),
            MAX_DOMAIN_PREFIX
        );
        let too_long: StackName = format!("a{}", "b".repeat(54)).parse().unwrap();
        let err = default_domain_prefix(&too_long, "1", "us-east-1").unwrap_err();
        assert!(
            err.contains("--domain-prefix") && err.contains("54"),
            "{err}"
        );
        for bad in ["McpAuth", "my-cognito"] {
            let err = default_domain_prefix(&bad.parse().unwrap(), "1", "us-east-1").unwrap_err();
            assert!(err.contains("--domain-prefix"), "{err}");
        }
    }
}
