//! Configuration, in layers: embedded defaults → the playbook's
//! `[database]` → `HANDOFF_*` environment (also `*_FILE`) → flags. Secrets
//! are `secrecy` values: their Debug output is redacted, and they are only
//! exposed at the point of use.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://handoff.db";

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The playbook file.
    #[arg(
        long,
        global = true,
        env = "HANDOFF_PLAYBOOK",
        default_value = "handoff.toml"
    )]
    pub playbook: PathBuf,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (default: the
    /// playbook's [database] url, else sqlite://handoff.db beside it).
    #[arg(
        long,
        global = true,
        env = "HANDOFF_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<SecretString>,
}

/// Where a setting's value came from, shown by `handoff config show` and
/// `handoff doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Default,
    Playbook,
    Env,
    EnvFile,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Default => "built-in default",
            Source::Playbook => "playbook [database] url",
            Source::Env => "HANDOFF_DATABASE_URL",
            Source::EnvFile => "HANDOFF_DATABASE_URL_FILE",
            Source::Flag => "--database-url",
        })
    }
}

/// A database URL. It may carry a password, so Debug and Display hide it.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        handoff_store_postgres::redact_url(self.expose())
    }

    pub fn scheme(&self) -> &str {
        self.expose().split(':').next().unwrap_or_default()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub playbook_path: PathBuf,
    pub database_url: DatabaseUrl,
    pub database_source: Source,
    /// Relative SQLite paths resolve against this folder.
    pub base_dir: PathBuf,
}

/// Reads the environment the same way for every `*_FILE`-capable value.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

#[derive(Debug)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Reads a secret from `NAME`, or from the file named by `NAME_FILE`
/// (trailing newline trimmed), as container platforms mount them.
pub fn secret_from_env(
    env: &dyn Environment,
    name: &str,
) -> Result<Option<(SecretString, Source)>> {
    if let Some(value) = env.var(name) {
        return Ok(Some((SecretString::from(value), Source::Env)));
    }
    let file_var = format!("{name}_FILE");
    if let Some(path) = env.var(&file_var) {
        let value = std::fs::read_to_string(&path)
            .with_context(|| format!("{file_var} points at {path}, which cannot be read"))?;
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            bail!("{file_var} points at {path}, which is empty");
        }
        return Ok(Some((SecretString::from(value), Source::EnvFile)));
    }
    Ok(None)
}

/// Reads a secret the playbook points at (an environment variable or a
/// file). Returns a sentence saying what is missing when it cannot.
pub fn resolve_secret(
    env: &dyn Environment,
    source: &handoff_domain::playbook::SecretSource,
    base_dir: &Path,
) -> std::result::Result<SecretString, String> {
    use handoff_domain::playbook::SecretSource;
    match source {
        SecretSource::Env(name) => env
            .var(name)
            .map(SecretString::from)
            .ok_or_else(|| format!("environment variable {name} is not set")),
        SecretSource::File(path) => {
            let full = base_dir.join(path);
            match std::fs::read_to_string(&full) {
                Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(
                    v.trim_end_matches(['\n', '\r']).to_string(),
                )),
                Ok(_) => Err(format!("secret file {} is empty", full.display())),
                Err(e) => Err(format!(
                    "secret file {} cannot be read: {e}",
                    full.display()
                )),
            }
        }
    }
}

impl Settings {
    pub fn load(global: &GlobalArgs) -> Result<Self> {
        Self::load_with(global, &ProcessEnv)
    }

    pub fn load_with(global: &GlobalArgs, env: &dyn Environment) -> Result<Self> {
        let playbook_path = global.playbook.clone();
        let base_dir = playbook_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));

        // Layer 1 and 2: default, then the playbook (read leniently here:
        // `policy check` is where a broken playbook is explained).
        let mut url = DEFAULT_DATABASE_URL.to_string();
        let mut source = Source::Default;
        if let Some(from_file) = database_url_in_playbook(&playbook_path) {
            url = from_file;
            source = Source::Playbook;
        }
        // Layer 3: the environment. clap also reads HANDOFF_DATABASE_URL
        // into the flag, so tell the two apart here.
        let env_url = secret_from_env(env, "HANDOFF_DATABASE_URL")?;
        if let Some((value, env_source)) = &env_url {
            url = value.expose_secret().to_string();
            source = *env_source;
        }
        // Layer 4: the flag, when it was really given on the command line.
        if let Some(flag) = &global.database_url {
            let same_as_env = env_url
                .as_ref()
                .is_some_and(|(v, _)| v.expose_secret() == flag.expose_secret());
            if !same_as_env {
                url = flag.expose_secret().to_string();
                source = Source::Flag;
            }
        }
        // Paths from the playbook or the default sit beside the playbook;
        // paths given on the command line or in the environment are the
        // user's own, relative to where they run handoff.
        let base_dir = match source {
            Source::Default | Source::Playbook => base_dir,
            Source::Env | Source::EnvFile | Source::Flag => PathBuf::from("."),
        };
        Ok(Settings {
            playbook_path,
            database_url: DatabaseUrl::new(url),
            database_source: source,
            base_dir,
        })
    }
}

fn database_url_in_playbook(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table
        .get("database")?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, String>);
    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn args(playbook: &Path, flag: Option<&str>) -> GlobalArgs {
        GlobalArgs {
            playbook: playbook.to_path_buf(),
            database_url: flag.map(|f| SecretString::from(f.to_string())),
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let playbook = dir.path().join("handoff.toml");
        let none = FakeEnv(HashMap::new());

        let s = Settings::load_with(&args(&playbook, None), &none).unwrap();
        assert_eq!(
            (s.database_url.expose(), s.database_source),
            (DEFAULT_DATABASE_URL, Source::Default)
        );

        std::fs::write(&playbook, "[database]\nurl = \"sqlite://from-file.db\"\n").unwrap();
        let s = Settings::load_with(&args(&playbook, None), &none).unwrap();
        assert_eq!(
            (s.database_url.expose(), s.database_source),
            ("sqlite://from-file.db", Source::Playbook)
        );
        assert_eq!(s.base_dir, dir.path());

        let env = FakeEnv(HashMap::from([(
            "HANDOFF_DATABASE_URL",
            "sqlite://env.db".to_string(),
        )]));
        let s = Settings::load_with(&args(&playbook, None), &env).unwrap();
        assert_eq!(
            (s.database_url.expose(), s.database_source),
            ("sqlite://env.db", Source::Env)
        );

        let s = Settings::load_with(&args(&playbook, Some("sqlite://flag.db")), &env).unwrap();
        assert_eq!(
            (s.database_url.expose(), s.database_source),
            ("sqlite://flag.db", Source::Flag)
        );
    }

    #[test]
    fn secrets_come_from_files_and_never_show_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("db-url");
        std::fs::write(&secret_file, "postgres://app:hunter2@db/handoff\n").unwrap();
        let env = FakeEnv(HashMap::from([(
            "HANDOFF_DATABASE_URL_FILE",
            secret_file.display().to_string(),
        )]));
        let s = Settings::load_with(&args(&dir.path().join("handoff.toml"), None), &env).unwrap();
        assert_eq!(s.database_source, Source::EnvFile);
        assert_eq!(s.database_url.expose(), "postgres://app:hunter2@db/handoff");
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("app:***@db"), "{debug}");
        assert!(!s.database_url.to_string().contains("hunter2"));

        let missing = FakeEnv(HashMap::from([(
            "HANDOFF_DATABASE_URL_FILE",
            "/nonexistent/x".to_string(),
        )]));
        let err = Settings::load_with(&args(&dir.path().join("handoff.toml"), None), &missing)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("HANDOFF_DATABASE_URL_FILE points at /nonexistent/x"),
            "{err}"
        );
    }

    #[test]
    fn playbook_secrets_resolve_from_env_or_file() {
        use handoff_domain::playbook::SecretSource;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("smtp.pw"), "s3cret\n").unwrap();
        let env = FakeEnv(HashMap::from([("SMTP_PW", "from-env".to_string())]));
        let got = resolve_secret(&env, &SecretSource::Env("SMTP_PW".into()), dir.path()).unwrap();
        assert_eq!(got.expose_secret(), "from-env");
        assert!(!format!("{got:?}").contains("from-env"));
        let got = resolve_secret(&env, &SecretSource::File("smtp.pw".into()), dir.path()).unwrap();
        assert_eq!(got.expose_secret(), "s3cret");
        let err = resolve_secret(&env, &SecretSource::Env("NOPE".into()), dir.path()).unwrap_err();
        assert_eq!(err, "environment variable NOPE is not set");
    }
}
