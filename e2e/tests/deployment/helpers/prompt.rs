//! The client's prompt, opened through the installed wrapper in a pseudo-terminal,
//! as a person on the client VM opens it.

use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

pub const PROMPT: &str = "container-info> ";
/// How long one command may take: the first prompt includes starting the
/// container and attaching it to the overlay network.
const TIMEOUT_MS: u64 = 60_000;

pub struct Prompt {
    session: PtySession,
}

impl Prompt {
    /// Runs `command` (the wrapper, with the deployment's settings) in a
    /// pseudo-terminal and waits for the prompt.
    pub fn open(mut command: Command) -> Self {
        command.env("TERM", "xterm");
        let mut session = spawn_command(command, Some(TIMEOUT_MS)).expect("the wrapper starts");
        // Dropped mid-test: SIGTERM to the docker CLI, SIGKILL if it lingers.
        session.process_mut().set_kill_timeout(Some(5_000));
        session
            .exp_string(PROMPT)
            .unwrap_or_else(|error| panic!("the client's prompt did not show: {error}"));
        Self { session }
    }

    /// Types a line and returns what the screen showed from the end of that line
    /// to the next prompt, without colours and carriage returns. (While a line is
    /// typed the prompt is drawn again with each key, so only the newline that
    /// accepts it tells where the output begins.)
    pub fn enter(&mut self, line: &str) -> String {
        self.session.send_line(line).unwrap();
        self.session
            .exp_string("\r\n")
            .unwrap_or_else(|error| panic!("the line {line:?} was not accepted: {error}"));
        let screen = self
            .session
            .exp_string(PROMPT)
            .unwrap_or_else(|error| panic!("no prompt after {line:?}: {error}"));
        plain(&screen)
    }

    /// `exit`: the prompt ends, and with it the wrapper, successfully.
    pub fn exit(mut self) {
        self.session.send_line("exit").unwrap();
        self.session
            .exp_eof()
            .unwrap_or_else(|error| panic!("the wrapper did not end after `exit`: {error}"));
        let status = self.session.process_mut().wait().unwrap();
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "the wrapper ended with {status:?}"
        );
    }
}

/// The text without terminal escape sequences (colours, cursor moves) and `\r`.
pub fn plain(screen: &str) -> String {
    let mut text = String::with_capacity(screen.len());
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next_if_eq(&'[').is_some() {
                    // CSI: parameters, then one final byte in @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c => text.push(c),
        }
    }
    text
}

/// The value of a `Key  value` line of the client's detail view.
pub fn field<'a>(screen: &'a str, key: &str) -> Option<&'a str> {
    screen.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        rest.starts_with("  ").then(|| rest.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_drops_colours_and_returns() {
        assert_eq!(plain("\x1b[1mID\x1b[0m  abc\r\n"), "ID  abc\n");
    }

    #[test]
    fn a_field_is_found_by_its_key() {
        let screen = "ID        0123\nImage ID  sha256:9\nReplica   r.1.x\n";
        assert_eq!(field(screen, "ID"), Some("0123"));
        assert_eq!(field(screen, "Image ID"), Some("sha256:9"));
        assert_eq!(field(screen, "Replica"), Some("r.1.x"));
        assert_eq!(field(screen, "Node"), None);
    }
}
