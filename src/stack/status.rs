//! What a stack status means for the command waiting on it.

/// The kind of operation a command started and waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CreateStack.
    Create,
    /// UpdateStack.
    Update,
    /// DeleteStack.
    Delete,
}

impl Operation {
    /// The status that means the operation succeeded.
    pub fn success_status(self) -> &'static str {
        match self {
            Operation::Create => "CREATE_COMPLETE",
            Operation::Update => "UPDATE_COMPLETE",
            Operation::Delete => "DELETE_COMPLETE",
        }
    }

    /// The verb for messages.
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// Whether CloudFormation is still working on a stack in this status.
pub fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// Whether CloudFormation takes an update of a stack in this status.
pub fn is_updatable(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE"
    )
}

/// Whether a resource or stack event reports a failure.
pub fn is_failure(status: &str) -> bool {
    status.ends_with("_FAILED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_covers_cleanup_and_rollback_phases() {
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert!(is_in_progress(s), "{s}");
        }
        for s in [
            "CREATE_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_FAILED",
        ] {
            assert!(!is_in_progress(s), "{s}");
        }
    }

    #[test]
    fn failures_are_the_failed_statuses() {
        assert!(is_failure("CREATE_FAILED"));
        assert!(is_failure("UPDATE_ROLLBACK_FAILED"));
        assert!(!is_failure("ROLLBACK_COMPLETE"));
    }
}
