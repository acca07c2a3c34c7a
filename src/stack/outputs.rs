//! The stack's outputs: typed for the env files, tabulated for people, JSON for scripts.

use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use super::ExistingStack;

/// The outputs later parts need, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackOutputs {
    /// AWS region.
    pub region: String,
    /// Cognito user pool id.
    pub user_pool_id: String,
    /// Issuer of the pool's tokens.
    pub issuer_url: String,
    /// The pool's JWKS.
    pub jwks_url: String,
    /// Base URL of managed login and the `/oauth2` endpoints.
    pub domain_base_url: String,
    /// The MCP server's canonical resource URI.
    pub resource_uri: String,
    /// Resource-server scopes as they appear in tokens, space separated.
    pub scopes: String,
    /// The facade's upstream app client.
    pub upstream_client_id: String,
    /// Its registered callback.
    pub upstream_callback_url: String,
    /// The static example's app client.
    pub example_client_id: String,
    /// DynamoDB table for registrations and authorization state.
    pub table_name: String,
}

/// The stack lacks outputs our template defines.
#[derive(Debug, thiserror::Error)]
#[error(
    "stack {stack} has no output {missing}: it was not deployed from this version of \
     stacks/mcp-auth.yaml. Run `cargo xtask deploy` to update it"
)]
pub struct MissingOutput {
    stack: String,
    missing: &'static str,
}

impl StackOutputs {
    /// Reads the outputs of one of our stacks.
    pub fn from_stack(stack: &ExistingStack) -> Result<Self, MissingOutput> {
        let get = |key: &'static str| {
            stack
                .output(key)
                .map(str::to_owned)
                .ok_or_else(|| MissingOutput {
                    stack: stack.stack.stack_name().unwrap_or(&stack.id).to_owned(),
                    missing: key,
                })
        };
        Ok(Self {
            region: get("Region")?,
            user_pool_id: get("UserPoolId")?,
            issuer_url: get("IssuerUrl")?,
            jwks_url: get("JwksUrl")?,
            domain_base_url: get("DomainBaseUrl")?,
            resource_uri: get("ResourceUri")?,
            scopes: get("Scopes")?,
            upstream_client_id: get("UpstreamClientId")?,
            upstream_callback_url: get("UpstreamCallbackUrl")?,
            example_client_id: get("ExampleClientId")?,
            table_name: get("TableName")?,
        })
    }
}

impl StackOutputs {
    /// The managed login domain prefix, read from `https://<prefix>.auth.<region>.amazoncognito.com`.
    pub fn domain_prefix(&self) -> Option<&str> {
        let host = self.domain_base_url.strip_prefix("https://")?;
        let (prefix, rest) = host.split_once('.')?;
        rest.starts_with("auth.").then_some(prefix)
    }
}

/// Every output of a stack, sorted by key, as a table.
pub fn table(stack: &ExistingStack) -> Table {
    let mut outputs: Vec<_> = stack.stack.outputs().iter().collect();
    outputs.sort_by_key(|o| o.output_key().unwrap_or_default().to_owned());
    let mut table = Table::new();
    table
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec!["Output", "Value"]);
    for o in outputs {
        table.add_row(vec![
            o.output_key().unwrap_or_default(),
            o.output_value().unwrap_or_default(),
        ]);
    }
    table
}

/// The stack as JSON: name, id, status, reason and outputs by key.
pub fn json(stack: &ExistingStack) -> serde_json::Value {
    let outputs: serde_json::Map<String, serde_json::Value> = stack
        .stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.into())))
        .collect();
    serde_json::json!({
        "stack_name": stack.stack.stack_name(),
        "stack_id": stack.id,
        "status": stack.status,
        "status_reason": stack.stack.stack_status_reason(),
        "outputs": outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_prefix_is_read_from_the_domain_url() {
        let mut outputs = StackOutputs {
            region: "eu-west-1".into(),
            user_pool_id: String::new(),
            issuer_url: String::new(),
            jwks_url: String::new(),
            domain_base_url: "https://demo-1a2b3c4d.auth.eu-west-1.amazoncognito.com".into(),
            resource_uri: String::new(),
            scopes: String::new(),
            upstream_client_id: String::new(),
            upstream_callback_url: String::new(),
            example_client_id: String::new(),
            table_name: String::new(),
        };
        assert_eq!(outputs.domain_prefix(), Some("demo-1a2b3c4d"));
        outputs.domain_base_url = "https://login.example.com".into();
        assert_eq!(
            outputs.domain_prefix(),
            None,
            "a custom domain has no prefix"
        );
    }
}
