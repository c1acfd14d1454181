//! What a command runs with: the services (found by `targets`), where output
//! goes, and how to ask whether to go on to the next page.

use std::io::{self, IsTerminal, Write};

use chrono::Utc;
use container_info_wire::{Snapshot, StoredSnapshot};

use crate::output;
use crate::targets::Targets;

/// The store's own default page size; one-shot lists are fetched in pages of it.
pub(crate) const ONE_SHOT_PAGE: usize = 100;

pub(crate) struct Session<'a> {
    pub targets: &'a Targets,
    pub out: &'a mut dyn Write,
    pub color: bool,
    /// How many rows to ask the store for at a time.
    pub page_size: usize,
    /// Asked when a page was shown and there are more: go on?
    pub more: &'a mut dyn FnMut() -> bool,
}

impl<'a> Session<'a> {
    /// One record, as JSON (the stored record when there is one) or as the
    /// detail view: what `whoami`, `post` and `get ID` print.
    pub(crate) fn show_record(
        &mut self,
        json: bool,
        snapshot: &Snapshot,
        stored: Option<&StoredSnapshot>,
    ) -> io::Result<()> {
        match (json, stored) {
            (true, Some(stored)) => output::json(self.out, stored),
            (true, None) => output::json(self.out, snapshot),
            (false, stored) => output::detail(self.out, snapshot, stored, Utc::now(), self.color),
        }
    }

    /// Runs `f` with a session that prints to stdout and fetches every page as
    /// it goes.
    pub(crate) fn one_shot<T>(targets: &'a Targets, f: impl FnOnce(&mut Session<'_>) -> T) -> T {
        let mut stdout = std::io::stdout().lock();
        let mut always = || true;
        let mut session = Session {
            targets,
            out: &mut stdout,
            color: color_wanted(),
            page_size: ONE_SHOT_PAGE,
            more: &mut always,
        };
        f(&mut session)
    }
}

/// Colour only for a person looking at a terminal who has not opted out
/// (https://no-color.org: any non-empty NO_COLOR).
pub(crate) fn color_wanted() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}
