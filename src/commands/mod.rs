//! One module per `cargo xtask` command.

pub mod bench;
pub mod cleanup;
pub mod client;
pub mod conformance;
pub mod deploy;
pub mod emulator;
pub mod outputs;
pub mod serve;
pub mod smoke;

use crate::{cli::AwsArgs, stack::StackName};

/// The exact command line that runs `sub` on the same stack and region.
pub fn xtask_command(sub: &str, stack: &StackName, region: &str, aws: &AwsArgs) -> String {
    let mut cmd = format!("cargo xtask {sub} --stack-name {stack} --region {region}");
    if let Some(profile) = &aws.profile {
        cmd.push_str(&format!(" --profile {profile}"));
    }
    cmd
}
