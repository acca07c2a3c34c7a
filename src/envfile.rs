//! Env files: dotenv text written with owner-only permissions and a marker line, so that the
//! files `deploy` writes are told apart from any a person wrote, and only ours are replaced or
//! removed.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

/// What the first line of every file we write starts with.
const MARKER_PREFIX: &str = "# Written by `cargo xtask ";

/// Who writes an env file; only that owner replaces or removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// `cargo xtask deploy`, for a stack.
    Stack(&'a str),
    /// `cargo xtask serve` in local mode.
    LocalServer,
}

impl Owner<'_> {
    /// The file's first line.
    fn marker(&self) -> String {
        match self {
            Owner::Stack(stack) => format!("{MARKER_PREFIX}deploy` for stack {stack:?}."),
            Owner::LocalServer => format!("{MARKER_PREFIX}serve` in local mode."),
        }
    }

    /// How the file goes away again.
    fn removal(&self) -> &'static str {
        match self {
            Owner::Stack(_) => "`cargo xtask cleanup` removes it",
            Owner::LocalServer => "it is removed when the server stops",
        }
    }
}

/// One env file: where it goes and its entries, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Its path.
    pub path: PathBuf,
    /// What it is for, said in its second line.
    pub purpose: &'static str,
    /// Keys and values.
    pub entries: Vec<(&'static str, String)>,
}

/// Why an env file could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// A file of that name exists and was not written by us.
    #[error(
        "{0} exists and was not written by `cargo xtask deploy`; it was left untouched. Move it \
         away (or pass --env-dir) and run the command again"
    )]
    Foreign(PathBuf),
    /// A file written by another owner (another stack, or the local server) is in the way.
    #[error(
        "{path} says \"{other}\": it belongs to that, not to this command, and was left \
         untouched. Remove it with the command that wrote it, or pass --env-dir"
    )]
    OtherOwner {
        /// The file.
        path: PathBuf,
        /// Its first line, without the leading "# ".
        other: String,
    },
    /// The file system said no.
    #[error("cannot write or remove {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

/// What happened to a file on removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// It was ours and is gone.
    Removed(PathBuf),
    /// There was none.
    Absent(PathBuf),
}

impl EnvFile {
    /// The file's text.
    pub fn render(&self, owner: Owner<'_>) -> String {
        let mut text = format!(
            "{}\n# {} Never commit it; {}.\n",
            owner.marker(),
            self.purpose,
            owner.removal()
        );
        for (key, value) in &self.entries {
            text.push_str(key);
            text.push('=');
            text.push_str(&quote(value));
            text.push('\n');
        }
        text
    }

    /// Writes the file atomically with mode 0600, replacing only a file we wrote for this stack.
    pub fn write(&self, owner: Owner<'_>) -> Result<(), EnvFileError> {
        check_replaceable(&self.path, owner)?;
        let io = |cause| EnvFileError::Io {
            path: self.path.clone(),
            cause,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        // The temporary file is created 0600, so the secrets are never readable by others, even
        // for a moment, and a crash mid-write leaves the old file whole.
        let mut builder = tempfile::Builder::new();
        builder.prefix(".env-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o600));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(io)?;
        tmp.write_all(self.render(owner).as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// The stack a file was written for by `cargo xtask deploy`, from its first line; `None` for a
/// file written by hand or by another command.
pub fn deployed_stack(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let first = text.lines().next()?;
    let quoted = first
        .strip_prefix(MARKER_PREFIX)?
        .strip_prefix("deploy` for stack ")?
        .strip_suffix('.')?;
    // Written with `{:?}`; stack names (letters, digits, hyphens) need no unescaping.
    Some(quoted.trim_matches('"').to_owned())
}

/// Removes `path` if we wrote it for `stack`; a file we did not write is an error, never deleted.
pub fn remove(path: &Path, owner: Owner<'_>) -> Result<Removal, EnvFileError> {
    if !path.exists() {
        return Ok(Removal::Absent(path.to_owned()));
    }
    check_replaceable(path, owner)?;
    fs::remove_file(path).map_err(|cause| EnvFileError::Io {
        path: path.to_owned(),
        cause,
    })?;
    Ok(Removal::Removed(path.to_owned()))
}

fn check_replaceable(path: &Path, owner: Owner<'_>) -> Result<(), EnvFileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(cause) => {
            return Err(EnvFileError::Io {
                path: path.to_owned(),
                cause,
            });
        }
    };
    let first = text.lines().next().unwrap_or_default();
    if first == owner.marker() {
        Ok(())
    } else if first.starts_with(MARKER_PREFIX) {
        Err(EnvFileError::OtherOwner {
            path: path.to_owned(),
            other: first.trim_start_matches("# ").to_owned(),
        })
    } else {
        Err(EnvFileError::Foreign(path.to_owned()))
    }
}

/// Double-quotes values that need it, dotenv style.
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@,+=%".contains(c));
    if plain {
        return value.to_owned();
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('$', "\\$");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path) -> EnvFile {
        EnvFile {
            path: dir.join("server/.env"),
            purpose: "Read by the bundled server.",
            entries: vec![
                ("CLIENT_ID", "abc123".into()),
                ("SCOPES", "http://x/mcp:read http://x/mcp:write".into()),
                ("ODD", "say \"hi\" $HOME".into()),
            ],
        }
    }

    #[test]
    fn renders_marker_and_quotes_what_needs_quoting() {
        let dir = tempfile::tempdir().unwrap();
        let text = file(dir.path()).render(Owner::Stack("mcp-auth-kit"));
        assert_eq!(
            text,
            "# Written by `cargo xtask deploy` for stack \"mcp-auth-kit\".\n\
             # Read by the bundled server. Never commit it; `cargo xtask cleanup` removes it.\n\
             CLIENT_ID=abc123\n\
             SCOPES=\"http://x/mcp:read http://x/mcp:write\"\n\
             ODD=\"say \\\"hi\\\" \\$HOME\"\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn writes_owner_only_and_replaces_its_own_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        f.write(Owner::Stack("s1")).unwrap();
        f.write(Owner::Stack("s1")).unwrap();
        let mode = fs::metadata(&f.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            remove(&f.path, Owner::Stack("s1")).unwrap(),
            Removal::Removed(f.path.clone())
        );
        assert_eq!(
            remove(&f.path, Owner::Stack("s1")).unwrap(),
            Removal::Absent(f.path.clone())
        );
    }

    #[test]
    fn tells_the_stack_a_file_was_deployed_for() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        assert_eq!(deployed_stack(&f.path), None);
        f.write(Owner::Stack("my-stack")).unwrap();
        assert_eq!(deployed_stack(&f.path).as_deref(), Some("my-stack"));
        f.write(Owner::Stack("my-stack")).unwrap();
        let local = dir.path().join("local.env");
        EnvFile {
            path: local.clone(),
            ..file(dir.path())
        }
        .write(Owner::LocalServer)
        .unwrap();
        assert_eq!(deployed_stack(&local), None);
        fs::write(&local, "A=1\n").unwrap();
        assert_eq!(deployed_stack(&local), None);
    }

    #[test]
    fn never_touches_a_file_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        fs::create_dir_all(f.path.parent().unwrap()).unwrap();
        fs::write(&f.path, "MY_OWN=1\n").unwrap();
        assert!(matches!(
            f.write(Owner::Stack("s1")),
            Err(EnvFileError::Foreign(_))
        ));
        assert!(matches!(
            remove(&f.path, Owner::Stack("s1")),
            Err(EnvFileError::Foreign(_))
        ));
        assert_eq!(fs::read_to_string(&f.path).unwrap(), "MY_OWN=1\n");
    }

    #[test]
    fn never_touches_another_owners_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        f.write(Owner::Stack("stack-a")).unwrap();
        let err = f.write(Owner::Stack("stack-b")).unwrap_err();
        assert!(
            matches!(&err, EnvFileError::OtherOwner { other, .. } if other.contains("\"stack-a\"")),
            "{err}"
        );
        assert!(matches!(
            remove(&f.path, Owner::LocalServer),
            Err(EnvFileError::OtherOwner { .. })
        ));
        assert!(f.path.exists());
        let local = EnvFile {
            path: dir.path().join("local.env"),
            ..file(dir.path())
        };
        local.write(Owner::LocalServer).unwrap();
        assert!(matches!(
            local.write(Owner::Stack("stack-a")),
            Err(EnvFileError::OtherOwner { .. })
        ));
        assert!(
            fs::read_to_string(&local.path)
                .unwrap()
                .contains("removed when the server stops")
        );
        assert_eq!(
            remove(&local.path, Owner::LocalServer).unwrap(),
            Removal::Removed(local.path.clone())
        );
    }
}
