//! Reaching AWS: configuration from the standard chain, and errors people can act on.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_cloudformation::{
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
};

/// Loaded AWS configuration, checked for a region and working credentials.
pub struct AwsContext {
    /// The shared SDK configuration.
    pub config: SdkConfig,
    /// The region in use.
    pub region: String,
    /// `AWS_ENDPOINT_URL`, when set (an emulator, or a VPC endpoint).
    pub endpoint_url: Option<String>,
}

/// Something between us and AWS went wrong; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region anywhere in the chain.
    #[error(
        "no AWS region is configured: pass --region, set AWS_REGION, or set one in your profile"
    )]
    NoRegion,
    /// A region name that cannot exist.
    #[error("{region:?} is not an AWS region name (they look like us-east-1 or eu-west-3)")]
    BadRegion {
        /// What was given.
        region: String,
    },
    /// `--profile` (or `AWS_PROFILE`) names a profile no AWS config file has.
    #[error(
        "the AWS profile {name:?} is not in {files}{known}\nCheck the name, or create it with \
         `aws configure --profile {name}` (or `aws configure sso --profile {name}`)"
    )]
    UnknownProfile {
        /// The profile asked for.
        name: String,
        /// The files looked in.
        files: String,
        /// The profiles they do have, as text.
        known: String,
    },
    /// The credential chain found nothing usable.
    #[error(
        "no usable AWS credentials: {detail}\nConfigure some with `aws configure`, \
         `aws sso login --profile NAME` (then pass --profile NAME), or the AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY environment variables"
    )]
    NoCredentials {
        /// The chain's own account of what it tried.
        detail: String,
    },
    /// AWS refused the credentials.
    #[error(
        "AWS refused the credentials ({operation}: {message}); they are wrong or expired: \
         refresh them (e.g. `aws sso login`) and try again"
    )]
    InvalidCredentials {
        /// The API call.
        operation: &'static str,
        /// AWS's message.
        message: String,
    },
    /// The identity lacks a permission.
    #[error(
        "AWS denied {operation}: {message}\nThe identity needs the permissions in \
         stacks/deploy-policy.json (docs/deploying.md, \"IAM permissions\")"
    )]
    AccessDenied {
        /// The API call.
        operation: &'static str,
        /// AWS's message.
        message: String,
    },
    /// The endpoint could not be reached.
    #[error(
        "could not reach AWS for {operation}: {detail}\nCheck the network, the region (a \
         mistyped region has no endpoint) and AWS_ENDPOINT_URL if you set it"
    )]
    Unreachable {
        /// The API call.
        operation: &'static str,
        /// The transport's account.
        detail: String,
    },
    /// AWS answered with an error of its own.
    #[error("{operation} failed: {code}: {message}")]
    Service {
        /// The API call.
        operation: &'static str,
        /// The error code, e.g. `ValidationError`.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The answer could not be understood.
    #[error("{operation} returned an answer that could not be read: {detail}")]
    BadResponse {
        /// The API call.
        operation: &'static str,
        /// The parser's account.
        detail: String,
    },
}

impl AwsError {
    /// Classifies an SDK error from any service.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let detail = error_chain(&err);
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let status = service.raw().status().as_u16();
                let code = e.code().map(str::to_owned).unwrap_or_else(|| {
                    // A body without an error code (an HTTP 500 page, say) is still worth naming.
                    format!("HTTP {status}")
                });
                let message = e.message().map(str::to_owned).unwrap_or_else(|| {
                    // No AWS error document: the raw body is the best account there is.
                    let body = service.raw().body().bytes().unwrap_or_default();
                    let body = String::from_utf8_lossy(&body[..body.len().min(300)]);
                    match (status >= 500, body.trim()) {
                        (true, "") => {
                            "the service failed to handle the request; try again later".to_owned()
                        }
                        (_, "") => "the response carried no error document".to_owned(),
                        (_, text) => format!("the response carried no AWS error document: {text}"),
                    }
                });
                match code.as_str() {
                    "ExpiredToken"
                    | "ExpiredTokenException"
                    | "InvalidClientTokenId"
                    | "UnrecognizedClientException"
                    | "SignatureDoesNotMatch"
                    | "InvalidSignatureException" => {
                        Self::InvalidCredentials { operation, message }
                    }
                    "AccessDenied" | "AccessDeniedException" => {
                        Self::AccessDenied { operation, message }
                    }
                    _ => Self::Service {
                        operation,
                        code,
                        message,
                    },
                }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                Self::Unreachable { operation, detail }
            }
            SdkError::ResponseError(_) => Self::BadResponse { operation, detail },
            _ => Self::Unreachable { operation, detail },
        }
    }

    /// Whether this is a CloudFormation `ValidationError` whose message contains `needle`.
    pub fn is_validation_error_containing(&self, needle: &str) -> bool {
        matches!(self, Self::Service { code, message, .. }
            if code == "ValidationError" && message.contains(needle))
    }
}

/// Loads configuration from the standard chain and proves the credentials resolve, so a missing
/// login is reported before anything is attempted.
/// `profile` and `region` override the chain's.
pub async fn connect(profile: Option<&str>, region: Option<&str>) -> Result<AwsContext, AwsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = profile {
        check_profile(profile)?;
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    let region = config.region().ok_or(AwsError::NoRegion)?.to_string();
    if !looks_like_region(&region) {
        return Err(AwsError::BadRegion { region });
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| AwsError::NoCredentials {
            detail: "no credential provider is configured".into(),
        })?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| AwsError::NoCredentials {
            detail: error_chain(&e),
        })?;
    let endpoint_url = config.endpoint_url().map(str::to_owned);
    Ok(AwsContext {
        config,
        region,
        endpoint_url,
    })
}

/// Refuses a profile that neither AWS config file defines: the SDK would only say later that it
/// found no credentials, which sends people looking in the wrong place.
fn check_profile(name: &str) -> Result<(), AwsError> {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| home.join(default))
    };
    let files = [
        (file("AWS_CONFIG_FILE", ".aws/config"), true),
        (
            file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            false,
        ),
    ];
    let mut known = Vec::new();
    for (path, is_config) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        known.extend(profiles_in(&text, *is_config));
    }
    if known.iter().any(|k| k == name) {
        return Ok(());
    }
    known.sort();
    known.dedup();
    Err(AwsError::UnknownProfile {
        name: name.to_owned(),
        files: files
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" or "),
        known: match known.is_empty() {
            true => " (they hold no profiles, or do not exist)".into(),
            false => format!("; they have: {}", known.join(", ")),
        },
    })
}

/// The profile names an AWS config file (`[profile NAME]`, `[default]`) or credentials file
/// (`[NAME]`) defines.
fn profiles_in(text: &str, is_config: bool) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
        .filter_map(|section| {
            let section = section.trim();
            match (is_config, section.strip_prefix("profile ")) {
                (true, Some(name)) => Some(name.trim().to_owned()),
                (true, None) if section == "default" => Some(section.to_owned()),
                (true, None) => None,
                (false, _) => Some(section.to_owned()),
            }
        })
        .collect()
}

/// The account the credentials belong to (STS GetCallerIdentity, which needs no permission).
pub async fn account_id(config: &SdkConfig) -> Result<String, AwsError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
    out.account()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::BadResponse {
            operation: "GetCallerIdentity",
            detail: "no account in the answer".into(),
        })
}

/// An error and its sources, each said once (SDK errors often repeat their source's text).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`...
fn looks_like_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_of_both_files() {
        let config = "[default]\nregion=x\n[profile work]\n[sso-session s]\n [profile  spaced ]\n";
        assert_eq!(profiles_in(config, true), ["default", "work", "spaced"]);
        assert_eq!(profiles_in("[default]\n[ci]\n", false), ["default", "ci"]);
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-5",
            "cn-north-1",
        ] {
            assert!(looks_like_region(ok), "{ok}");
        }
        for bad in [
            "useast1",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "",
            "us-east-1a",
        ] {
            assert!(!looks_like_region(bad), "{bad}");
        }
    }
}
