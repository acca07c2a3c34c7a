//! The CloudFormation stack: its name, template, parameters, state and the plan that moves it.

pub mod events;
pub mod outputs;
pub mod parameters;
pub mod plan;
pub mod status;
pub mod template;

use std::{fmt, str::FromStr};

use aws_sdk_cloudformation::{Client, types::Stack};

use crate::aws::AwsError;

/// Tag that marks a stack as created by `cargo xtask deploy` from our template; without it, a
/// stack of the same name belongs to someone else and is never updated or deleted.
pub const OWNER_TAG_KEY: &str = "mcp-auth-kit:template";
/// Value of [`OWNER_TAG_KEY`]: which template family made the stack.
pub const OWNER_TAG_VALUE: &str = "cognito-v1";

/// A CloudFormation stack name: a letter, then letters, digits and hyphens, at most 128.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackName(String);

impl StackName {
    /// The name as CloudFormation takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StackName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut chars = s.chars();
        let valid = s.len() <= 128
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a valid stack name: start with a letter, then use only letters, \
                 digits and hyphens (128 characters at most)"
            ))
        }
    }
}

/// A stack as found in CloudFormation, reduced to what the commands decide on.
#[derive(Debug, Clone)]
pub struct ExistingStack {
    /// The stack's ARN, which keeps answering after deletion (a name does not).
    pub id: String,
    /// The raw status, e.g. `CREATE_COMPLETE`.
    pub status: String,
    /// Whether it carries our owner tag.
    pub owned: bool,
    /// Keys of the parameters it was deployed with.
    pub parameter_keys: Vec<String>,
    /// The full description, for outputs.
    pub stack: Stack,
}

impl ExistingStack {
    /// The value of one of its outputs.
    pub fn output(&self, key: &str) -> Option<&str> {
        self.stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
    }

    fn from_sdk(stack: Stack) -> Self {
        Self {
            id: stack.stack_id().unwrap_or_default().to_owned(),
            status: stack
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            owned: stack
                .tags()
                .iter()
                .any(|t| t.key() == Some(OWNER_TAG_KEY) && t.value() == Some(OWNER_TAG_VALUE)),
            parameter_keys: stack
                .parameters()
                .iter()
                .filter_map(|p| p.parameter_key().map(str::to_owned))
                .collect(),
            stack,
        }
    }
}

/// Looks a stack up by name or id; `None` when CloudFormation has no live stack of that name.
pub async fn describe(
    client: &Client,
    name_or_id: &str,
) -> Result<Option<ExistingStack>, AwsError> {
    match client.describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => Ok(out.stacks().first().cloned().map(ExistingStack::from_sdk)),
        Err(err) => {
            let err = AwsError::from_sdk("DescribeStacks", err);
            if err.is_validation_error_containing("does not exist") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_follow_cloudformation_rules() {
        assert!("mcp-auth-kit".parse::<StackName>().is_ok());
        assert!("A1-b2".parse::<StackName>().is_ok());
        for bad in [
            "",
            "1abc",
            "-abc",
            "with_underscore",
            "with space",
            &"a".repeat(129),
        ] {
            assert!(bad.parse::<StackName>().is_err(), "{bad:?} accepted");
        }
    }
}
