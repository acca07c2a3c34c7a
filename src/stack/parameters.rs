//! Template parameters from command-line flags.
//!
//! A flag left out keeps the value the stack already has (UsePreviousValue) on an update, and the
//! template default on a create, so re-running `deploy` without flags never resets a setting.

use aws_sdk_cloudformation::types::Parameter;
use clap::Args;

use super::StackName;

/// Flags that set template parameters; every one is optional.
#[derive(Debug, Clone, Default, Args)]
pub struct StackParameterFlags {
    /// The MCP server's canonical resource URI (RFC 8707): the resource server identifier, and
    /// the `aud` of access tokens [template default: http://localhost:8080/mcp]
    #[arg(long, value_name = "URL", value_parser = resource_uri)]
    pub resource_uri: Option<String>,
    /// The bundled server's OAuth callback, registered on the facade's upstream client
    /// [template default: http://localhost:8080/oauth/callback]
    #[arg(long, value_name = "URL", value_parser = callback_url)]
    pub callback_url: Option<String>,
    /// Callback URLs of the pre-registered example client, comma separated
    /// [template default: http://localhost:3000/callback]
    #[arg(long, value_name = "URL,...", value_delimiter = ',', value_parser = callback_url)]
    pub example_callback_urls: Option<Vec<String>>,
    /// Managed login domain prefix [template default: <stack name>-<account id>]
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
            given.push(("ResourceUri", v.clone()));
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

    /// Checks that the default domain prefix (`<stack>-<account>`) will be acceptable to Cognito
    /// when no prefix is given and the stack does not have one yet.
    pub fn check_default_domain_prefix(&self, stack: &StackName) -> Result<(), String> {
        if self.domain_prefix.is_some() {
            return Ok(());
        }
        let name = stack.as_str();
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "the default managed login domain prefix is \"<stack name>-<account id>\", and \
                 stack name {name:?} has upper-case letters, which Cognito refuses: pass \
                 --domain-prefix, or use a lower-case --stack-name"
            ));
        }
        if let Some(word) = reserved_word(name) {
            return Err(format!(
                "the default managed login domain prefix is \"<stack name>-<account id>\", and \
                 Cognito refuses prefixes containing {word:?}: pass --domain-prefix, or choose \
                 another --stack-name"
            ));
        }
        Ok(())
    }
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

fn resource_uri(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("the resource URI must be an http(s) URL".into());
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err("a resource URI has no query or fragment (RFC 8707 section 2)".into());
    }
    Ok(s.to_owned())
}

fn callback_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err("a redirect URI has no fragment (RFC 6749 section 3.1.2)".into());
    }
    match (url.scheme(), url.host_str()) {
        ("https", _) | ("http", Some("localhost")) => Ok(s.to_owned()),
        _ => Err("Cognito takes https callback URLs, or http only on localhost".into()),
    }
}

fn domain_prefix(s: &str) -> Result<String, String> {
    let shape_ok = !s.is_empty()
        && s.len() <= 63
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
        assert!(callback_url("http://localhost:8080/oauth/callback").is_ok());
        assert!(callback_url("http://127.0.0.1:8080/cb").is_err());
        assert!(callback_url("https://app.example.com/cb").is_ok());
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
    fn default_prefix_needs_a_usable_stack_name() {
        let flags = StackParameterFlags::default();
        assert!(
            flags
                .check_default_domain_prefix(&"mcp-auth-kit".parse().unwrap())
                .is_ok()
        );
        let err = flags
            .check_default_domain_prefix(&"McpAuth".parse().unwrap())
            .unwrap_err();
        assert!(err.contains("--domain-prefix"), "{err}");
        assert!(
            flags
                .check_default_domain_prefix(&"my-cognito".parse().unwrap())
                .is_err()
        );
        let with_prefix = StackParameterFlags {
            domain_prefix: Some("ok".into()),
            ..Default::default()
        };
        assert!(
            with_prefix
                .check_default_domain_prefix(&"McpAuth".parse().unwrap())
                .is_ok()
        );
    }
}
