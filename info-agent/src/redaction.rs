//! Which labels never leave the agent: a policy, set by `--redact-label`.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The label keys that match any `--redact-label` glob. Such labels are dropped as a
/// container is read from the engine, so that no answer can carry them.
#[derive(Clone, Debug)]
pub(crate) struct LabelRedactor(GlobSet);

impl LabelRedactor {
    pub(crate) fn new(patterns: &[Glob]) -> Result<Self, globset::Error> {
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            set.add(pattern.clone());
        }
        Ok(Self(set.build()?))
    }

    pub(crate) fn is_redacted(&self, key: &str) -> bool {
        self.0.is_match(key)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Cli;

    #[test]
    fn redaction_matches_globs_on_the_whole_key() {
        let config = Cli::parse_from([
            "agent",
            "--redact-label",
            "com.example.secret.*",
            "--redact-label",
            "token?",
        ])
        .config;
        let redactor = LabelRedactor::new(&config.redact_label).unwrap();
        assert!(redactor.is_redacted("com.example.secret.db"));
        assert!(redactor.is_redacted("token1"));
        assert!(!redactor.is_redacted("token12"));
        assert!(!redactor.is_redacted("com.example.team"));
        assert!(!LabelRedactor::new(&[]).unwrap().is_redacted("anything"));
    }
}
