//! What `deploy` does with the stack it finds.

use super::ExistingStack;

/// The action `deploy` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployPlan {
    /// No stack of that name: create it.
    Create,
    /// Our stack in a stable state: update it.
    Update,
    /// Our stack whose create failed (ROLLBACK_COMPLETE), and `--replace-failed` was given.
    ReplaceFailed,
    /// Nothing can be done; the reason says what the user can do.
    Refuse(Refusal),
}

/// Why `deploy` will not touch a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The stack was not created by this tool.
    NotOurs,
    /// A failed create left it in ROLLBACK_COMPLETE, which CloudFormation cannot update.
    RolledBackCreate,
    /// CloudFormation is working on it.
    Busy(String),
    /// A failed update rollback needs ContinueUpdateRollback first.
    UpdateRollbackFailed,
    /// Some other state that cannot be updated (e.g. DELETE_FAILED, ROLLBACK_FAILED).
    Unrecoverable(String),
}

/// Decides what `deploy` does, given the stack it found (if any).
pub fn plan(existing: Option<&ExistingStack>, replace_failed: bool) -> DeployPlan {
    let Some(stack) = existing else {
        return DeployPlan::Create;
    };
    if !stack.owned {
        return DeployPlan::Refuse(Refusal::NotOurs);
    }
    match stack.status.as_str() {
        "ROLLBACK_COMPLETE" if replace_failed => DeployPlan::ReplaceFailed,
        "ROLLBACK_COMPLETE" => DeployPlan::Refuse(Refusal::RolledBackCreate),
        "UPDATE_ROLLBACK_FAILED" => DeployPlan::Refuse(Refusal::UpdateRollbackFailed),
        s if super::status::is_in_progress(s) => DeployPlan::Refuse(Refusal::Busy(s.to_owned())),
        s if super::status::is_updatable(s) => DeployPlan::Update,
        other => DeployPlan::Refuse(Refusal::Unrecoverable(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::Stack;

    fn stack(status: &str, owned: bool) -> ExistingStack {
        ExistingStack {
            id: "arn:aws:cloudformation:us-east-1:1:stack/s/1".into(),
            status: status.into(),
            owned,
            parameter_keys: vec![],
            stack: Stack::builder().build(),
        }
    }

    #[test]
    fn plans() {
        assert_eq!(plan(None, false), DeployPlan::Create);
        assert_eq!(
            plan(Some(&stack("CREATE_COMPLETE", true)), false),
            DeployPlan::Update
        );
        assert_eq!(
            plan(Some(&stack("UPDATE_ROLLBACK_COMPLETE", true)), false),
            DeployPlan::Update
        );
        assert_eq!(
            plan(Some(&stack("CREATE_COMPLETE", false)), true),
            DeployPlan::Refuse(Refusal::NotOurs)
        );
        assert_eq!(
            plan(Some(&stack("ROLLBACK_COMPLETE", true)), false),
            DeployPlan::Refuse(Refusal::RolledBackCreate)
        );
        assert_eq!(
            plan(Some(&stack("ROLLBACK_COMPLETE", true)), true),
            DeployPlan::ReplaceFailed
        );
        assert_eq!(
            plan(Some(&stack("UPDATE_IN_PROGRESS", true)), true),
            DeployPlan::Refuse(Refusal::Busy("UPDATE_IN_PROGRESS".into()))
        );
        assert_eq!(
            plan(Some(&stack("UPDATE_ROLLBACK_FAILED", true)), false),
            DeployPlan::Refuse(Refusal::UpdateRollbackFailed)
        );
        assert_eq!(
            plan(Some(&stack("DELETE_FAILED", true)), false),
            DeployPlan::Refuse(Refusal::Unrecoverable("DELETE_FAILED".into()))
        );
    }
}
