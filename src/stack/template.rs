//! The CloudFormation template file.

use std::path::{Path, PathBuf};

/// CloudFormation's limit for a template passed inline (TemplateBody).
pub const MAX_INLINE_BYTES: usize = 51_200;

/// A template read from disk, ready to be sent inline.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// Its text.
    pub body: String,
}

/// Why a template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error(
        "cannot read the template {path}: {cause} (pass --template with the path to a CloudFormation template)"
    )]
    Unreadable {
        /// The path tried.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is empty.
    #[error("the template {path} is empty")]
    Empty {
        /// The path tried.
        path: PathBuf,
    },
    /// The file is larger than CloudFormation takes inline.
    #[error(
        "the template {path} has {size} bytes; CloudFormation takes at most {MAX_INLINE_BYTES} inline"
    )]
    TooLarge {
        /// The path tried.
        path: PathBuf,
        /// Its size.
        size: usize,
    },
}

impl Template {
    /// Reads a template; syntax is checked by CloudFormation's ValidateTemplate, not here.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let body = std::fs::read_to_string(path).map_err(|cause| TemplateError::Unreadable {
            path: path.to_owned(),
            cause,
        })?;
        if body.trim().is_empty() {
            return Err(TemplateError::Empty {
                path: path.to_owned(),
            });
        }
        if body.len() > MAX_INLINE_BYTES {
            return Err(TemplateError::TooLarge {
                path: path.to_owned(),
                size: body.len(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            body,
        })
    }

    /// The path for messages: relative to the workspace when inside it.
    pub fn shown(&self, root: &Path) -> String {
        self.path
            .strip_prefix(root)
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_empty_and_oversize_templates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let err = Template::load(&missing).unwrap_err().to_string();
        assert!(
            err.contains("nope.yaml") && err.contains("--template"),
            "{err}"
        );

        let empty = dir.path().join("empty.yaml");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(matches!(
            Template::load(&empty),
            Err(TemplateError::Empty { .. })
        ));

        let big = dir.path().join("big.yaml");
        std::fs::write(&big, "#".repeat(MAX_INLINE_BYTES + 1)).unwrap();
        assert!(matches!(
            Template::load(&big),
            Err(TemplateError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_bundled_template_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/mcp-auth.yaml");
        let t = Template::load(&path).unwrap();
        assert!(t.body.contains("AWS::Cognito::UserPool"));
    }
}
