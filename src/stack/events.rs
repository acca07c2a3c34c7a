//! Following a stack operation live: new events as they happen, a spinner while nothing does.

use std::{
    collections::HashSet,
    io::IsTerminal,
    time::{Duration, Instant},
};

use aws_sdk_cloudformation::{Client, types::StackEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{
    ExistingStack, describe,
    status::{Operation, is_failure, is_in_progress},
};
use crate::aws::AwsError;

/// How often CloudFormation is asked for news: well under its API rate limits.
const POLL_INTERVAL: Duration = Duration::from_secs(3);
/// Without a terminal for the spinner, a line this often says the wait goes on.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// A resource that failed during the operation, with CloudFormation's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedResource {
    /// Logical id in the template.
    pub logical_id: String,
    /// Resource type, e.g. `AWS::Cognito::UserPool`.
    pub resource_type: String,
    /// Status, e.g. `CREATE_FAILED`.
    pub status: String,
    /// CloudFormation's status reason.
    pub reason: String,
}

/// Why waiting for an operation did not end in success.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Asking CloudFormation failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The stack disappeared while being watched.
    #[error("stack {0} vanished while it was being watched")]
    Vanished(String),
    /// The operation is still running after the timeout.
    #[error(
        "stack {stack} is still {status} after {}s, so this command stopped waiting; \
         CloudFormation keeps working on it. Follow it with `cargo xtask outputs --wait \
         --stack-name {stack}`",
        waited.as_secs()
    )]
    TimedOut {
        /// Stack name.
        stack: String,
        /// Last status seen.
        status: String,
        /// How long the command waited.
        waited: Duration,
    },
    /// The operation ended in a status other than its success status.
    #[error("{}", failure_message(.operation, .stack, .status, .reason, .failures))]
    Failed {
        /// What was attempted.
        operation: Operation,
        /// Stack name.
        stack: String,
        /// Final status.
        status: String,
        /// The stack's own status reason.
        reason: Option<String>,
        /// The resources that failed, oldest first.
        failures: Vec<FailedResource>,
    },
}

fn failure_message(
    operation: &Operation,
    stack: &str,
    status: &str,
    reason: &Option<String>,
    failures: &[FailedResource],
) -> String {
    let mut msg = format!(
        "the {} of stack {stack} failed: it is {status}",
        operation.verb()
    );
    if let Some(reason) = reason {
        msg.push_str(&format!(" ({reason})"));
    }
    if failures.is_empty() {
        msg.push_str("\nCloudFormation reported no failed resource; see its console for details.");
    } else {
        msg.push_str("\nFailed resources:");
        for f in failures {
            msg.push_str(&format!(
                "\n  {} ({}) {}: {}",
                f.logical_id, f.resource_type, f.status, f.reason
            ));
        }
    }
    msg
}

/// Follows one stack operation.
pub struct EventWatch<'a> {
    client: &'a Client,
    stack_name: String,
    stack_id: String,
    seen: HashSet<String>,
    failures: Vec<FailedResource>,
}

impl<'a> EventWatch<'a> {
    /// Starts watching an existing stack: the events it already has are not shown again.
    pub async fn existing(client: &'a Client, stack: &ExistingStack) -> Result<Self, AwsError> {
        let mut watch = Self::new(client, stack);
        for event in watch.latest_events().await? {
            watch
                .seen
                .insert(event.event_id().unwrap_or_default().to_owned());
        }
        Ok(watch)
    }

    /// Starts watching a stack just created: every event is new.
    pub fn created(client: &'a Client, stack_name: &str, stack_id: &str) -> Self {
        Self {
            client,
            stack_name: stack_name.to_owned(),
            stack_id: stack_id.to_owned(),
            seen: HashSet::new(),
            failures: Vec::new(),
        }
    }

    fn new(client: &'a Client, stack: &ExistingStack) -> Self {
        let name = stack.stack.stack_name().unwrap_or(&stack.id).to_owned();
        Self::created(client, &name, &stack.id)
    }

    /// Prints events until the stack settles; succeeds only on the operation's success status.
    pub async fn until_settled(
        mut self,
        operation: Operation,
        timeout: Duration,
    ) -> Result<ExistingStack, WatchError> {
        let stack = self.follow(operation.verb(), timeout).await?;
        self.outcome(operation, stack)
    }

    /// Prints events until the stack settles, whatever status it settles in.
    pub async fn until_idle(mut self, timeout: Duration) -> Result<ExistingStack, WatchError> {
        self.follow("wait for", timeout).await
    }

    /// Resource failures in a stack's recent history (e.g. of the create that failed).
    pub async fn past_failures(
        client: &'a Client,
        stack: &ExistingStack,
    ) -> Result<Vec<FailedResource>, AwsError> {
        let mut watch = Self::new(client, stack);
        for event in watch.latest_events().await?.iter().rev() {
            watch.record_failure(event);
        }
        Ok(watch.failures)
    }

    async fn follow(&mut self, verb: &str, timeout: Duration) -> Result<ExistingStack, WatchError> {
        let started = Instant::now();
        let mut last_heartbeat = Instant::now();
        let spinner = spinner();
        let result = loop {
            self.show_new_events(&spinner).await?;
            let stack = describe(self.client, &self.stack_id)
                .await?
                .ok_or_else(|| WatchError::Vanished(self.stack_name.clone()))?;
            let elapsed = started.elapsed();
            spinner.set_message(format!(
                "{verb} {}: {} ({}s)",
                self.stack_name,
                stack.status,
                elapsed.as_secs()
            ));
            if !is_in_progress(&stack.status) {
                self.show_new_events(&spinner).await?;
                break Ok(stack);
            }
            if elapsed >= timeout {
                break Err(WatchError::TimedOut {
                    stack: self.stack_name.clone(),
                    status: stack.status,
                    waited: elapsed,
                });
            }
            if spinner.is_hidden() && last_heartbeat.elapsed() >= HEARTBEAT {
                eprintln!("  ... still {} after {}s", stack.status, elapsed.as_secs());
                last_heartbeat = Instant::now();
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        spinner.finish_and_clear();
        result
    }

    fn outcome(
        &mut self,
        operation: Operation,
        stack: ExistingStack,
    ) -> Result<ExistingStack, WatchError> {
        if stack.status == operation.success_status() {
            return Ok(stack);
        }
        Err(WatchError::Failed {
            operation,
            stack: self.stack_name.clone(),
            reason: stack.stack.stack_status_reason().map(str::to_owned),
            status: stack.status,
            failures: std::mem::take(&mut self.failures),
        })
    }

    async fn latest_events(&self) -> Result<Vec<StackEvent>, AwsError> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(&self.stack_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeStackEvents", e))?;
        Ok(out.stack_events().to_vec())
    }

    async fn show_new_events(&mut self, spinner: &ProgressBar) -> Result<(), AwsError> {
        let events = self.latest_events().await?;
        // CloudFormation lists newest first; people read oldest first.
        for event in events.iter().rev() {
            let id = event.event_id().unwrap_or_default().to_owned();
            if !self.seen.insert(id) {
                continue;
            }
            self.record_failure(event);
            let line = event_line(event);
            spinner.suspend(|| eprintln!("{line}"));
        }
        Ok(())
    }
}

impl EventWatch<'_> {
    fn record_failure(&mut self, event: &StackEvent) {
        let status = event
            .resource_status()
            .map(|s| s.as_str())
            .unwrap_or_default();
        let reason = event.resource_status_reason().unwrap_or_default();
        if is_failure(status) && !reason.is_empty() {
            self.failures.push(FailedResource {
                logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: event.resource_type().unwrap_or_default().to_owned(),
                status: status.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }
}

/// One event as a line: time, status, type, logical id, reason.
pub fn event_line(event: &StackEvent) -> String {
    let time = event
        .timestamp()
        .and_then(|t| {
            t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
                .ok()
        })
        .and_then(|t| t.get(11..19).map(str::to_owned))
        .unwrap_or_else(|| "--:--:--".to_owned());
    let status = event.resource_status().map(|s| s.as_str()).unwrap_or("");
    let kind = event.resource_type().unwrap_or("");
    let logical = event.logical_resource_id().unwrap_or("");
    let reason = event.resource_status_reason().unwrap_or("");
    format!("  {time}  {status:<28} {kind:<38} {logical}  {reason}")
        .trim_end()
        .to_owned()
}

fn spinner() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("  {spinner} {msg}")
            .expect("static template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::{primitives::DateTime, types::ResourceStatus};

    #[test]
    fn event_lines_read_time_status_type_id_reason() {
        let event = StackEvent::builder()
            .timestamp(DateTime::from_secs(1_795_000_000))
            .resource_status(ResourceStatus::CreateFailed)
            .resource_type("AWS::Cognito::UserPoolDomain")
            .logical_resource_id("UserPoolDomain")
            .resource_status_reason("Domain already exists")
            .build();
        let line = event_line(&event);
        assert!(line.starts_with("  "), "{line}");
        assert!(line.contains("CREATE_FAILED"), "{line}");
        assert!(
            line.ends_with("UserPoolDomain  Domain already exists"),
            "{line}"
        );
        assert_eq!(&line[2..10], "11:06:40");
    }

    #[test]
    fn failure_message_lists_each_failed_resource() {
        let msg = failure_message(
            &Operation::Create,
            "s",
            "ROLLBACK_COMPLETE",
            &Some("The following resource(s) failed to create: [UserPoolDomain].".into()),
            &[FailedResource {
                logical_id: "UserPoolDomain".into(),
                resource_type: "AWS::Cognito::UserPoolDomain".into(),
                status: "CREATE_FAILED".into(),
                reason: "Domain already exists".into(),
            }],
        );
        assert!(
            msg.contains("the create of stack s failed: it is ROLLBACK_COMPLETE"),
            "{msg}"
        );
        assert!(msg.contains(
            "UserPoolDomain (AWS::Cognito::UserPoolDomain) CREATE_FAILED: Domain already exists"
        ));
    }
}
