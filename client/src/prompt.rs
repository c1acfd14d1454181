//! The interactive prompt: the commands of the command line, typed one per line,
//! with completion, hints, and a history that survives restarts.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use futures_util::FutureExt;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};
use tokio::runtime::Runtime;
use tokio::signal::unix::{SignalKind, signal};

use crate::commands::Command;
use crate::error::ClientError;
use crate::output::{Paint, paint};
use crate::session::{Session, color_wanted};
use crate::targets::Targets;

pub(crate) const PROMPT: &str = "container-info> ";
const MORE: &str = "-- more? [Enter: next page, q: stop] ";
/// Rows kept free on a page for the header and the "more?" line.
const SCREEN_MARGIN: usize = 3;
const FALLBACK_PAGE: usize = 20;

/// What the prompt knows besides the commands of the command line.
const EXTRA_COMMANDS: [(&str, &str); 3] = [
    (
        "help",
        "List the commands; `help COMMAND` tells everything about one",
    ),
    ("exit", "Leave the prompt (Ctrl-D does too)"),
    ("quit", "Leave the prompt"),
];

/// A line as typed at the prompt: the commands and flags of the command line,
/// without the program name.
#[derive(Debug, Parser)]
#[command(
    name = "container-info>",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_version_flag = true
)]
struct PromptLine {
    #[command(subcommand)]
    command: Command,
}

/// Every command name with its one-line description, in the order `help` lists them.
fn commands() -> Vec<(String, String)> {
    let line = PromptLine::command();
    let mut all: Vec<(String, String)> = line
        .get_subcommands()
        .map(|sub| {
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            (sub.get_name().to_owned(), about)
        })
        .collect();
    all.extend(
        EXTRA_COMMANDS
            .iter()
            .map(|(name, about)| ((*name).to_owned(), (*about).to_owned())),
    );
    all
}

#[derive(Debug)]
enum Line {
    Exit,
    Help(Option<String>),
    Run(Box<Command>),
    /// The line is not right; what to say about it.
    Wrong(String),
}

fn parse(line: &str) -> Line {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Line::Help(None);
    };
    match *first {
        "exit" | "quit" => return Line::Exit,
        "help" | "?" => return Line::Help(words.get(1).map(|word| (*word).to_owned())),
        _ => {}
    }
    let names: Vec<String> = commands().into_iter().map(|(name, _)| name).collect();
    if !names.iter().any(|name| name == first) {
        return Line::Wrong(unknown(first, &names));
    }
    match PromptLine::try_parse_from(&words) {
        Ok(parsed) => Line::Run(Box::new(parsed.command)),
        Err(error) => Line::Wrong(error.render().to_string().trim_end().to_owned()),
    }
}

fn unknown(word: &str, names: &[String]) -> String {
    let nearest = names
        .iter()
        .max_by(|a, b| strsim::jaro_winkler(word, a).total_cmp(&strsim::jaro_winkler(word, b)))
        .expect("there are commands");
    format!(
        "unknown command {word:?}; did you mean {nearest:?}? The commands are: {}",
        names.join(", ")
    )
}

fn help(topic: Option<&str>) -> String {
    if let Some(topic) = topic {
        let mut line = PromptLine::command();
        return match line.find_subcommand_mut(topic) {
            Some(sub) => sub.render_long_help().to_string(),
            None => match EXTRA_COMMANDS.iter().find(|(name, _)| *name == topic) {
                Some((name, about)) => format!("{name}: {about}\n"),
                None => {
                    let names: Vec<String> = commands().into_iter().map(|(name, _)| name).collect();
                    format!("{}\n", unknown(topic, &names))
                }
            },
        };
    }
    let all = commands();
    let width = all.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text = String::from("Commands:\n");
    for (name, about) in all {
        text.push_str(&format!("  {name:width$}   {about}\n"));
    }
    text.push_str("Tab completes a command; Ctrl-C cancels the line.\n");
    text
}

/// Completion and hints for the command word.
struct PromptHelper {
    names: Vec<String>,
    color: bool,
}

impl Completer for PromptHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let typed = &line[..pos];
        if typed.contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        let matching = self
            .names
            .iter()
            .filter(|name| name.starts_with(typed))
            .cloned()
            .collect();
        Ok((0, matching))
    }
}

impl Hinter for PromptHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if line.is_empty() || pos < line.len() || line.contains(char::is_whitespace) {
            return None;
        }
        self.names
            .iter()
            .find(|name| name.starts_with(line) && name.len() > line.len())
            .map(|name| name[line.len()..].to_owned())
    }
}

impl Highlighter for PromptHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(paint(hint, Paint::Dim, true))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for PromptHelper {}

impl Helper for PromptHelper {}

/// Where the history is kept: the user's data folder, e.g.
/// `~/.local/share/container-info/history`.
fn history_file() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("container-info").join("history"))
}

fn page_size() -> usize {
    terminal_size::terminal_size()
        .map(|(_, terminal_size::Height(rows))| usize::from(rows))
        .filter(|rows| *rows > SCREEN_MARGIN + 1)
        .map_or(FALLBACK_PAGE, |rows| rows - SCREEN_MARGIN)
}

pub(crate) fn run(
    runtime: &Runtime,
    targets: &Targets,
    no_history: bool,
) -> Result<(), ClientError> {
    let color = color_wanted();
    let mut prompt = Prompt::open(color, no_history)?;
    // From the start, so that Ctrl-C never ends the program: at the prompt the
    // terminal hands it over as a key, while a command runs it arrives as SIGINT.
    let mut interrupts = runtime
        .block_on(async { signal(SignalKind::interrupt()) })
        .map_err(|error| ClientError::Terminal(error.to_string()))?;
    println!("container-info: type help for the commands, exit to leave.");
    while let Some(line) = prompt.read_line()? {
        let command = match line {
            Line::Exit => break,
            Line::Help(topic) => {
                print!("{}", help(topic.as_deref()));
                continue;
            }
            Line::Wrong(message) => {
                eprintln!("{message}");
                continue;
            }
            Line::Run(command) => command,
        };
        let mut stdout = std::io::stdout();
        let editor = &mut prompt.editor;
        let mut more = || matches!(editor.readline(MORE), Ok(answer) if !answer.trim().eq_ignore_ascii_case("q"));
        let mut session = Session {
            targets,
            out: &mut stdout,
            color,
            page_size: page_size(),
            more: &mut more,
        };
        // An interrupt from before this command is not meant for it.
        while interrupts.recv().now_or_never().is_some() {}
        let outcome = runtime.block_on(async {
            // Ctrl-C while a request is under way gives the prompt back.
            tokio::select! {
                outcome = command.run(&mut session) => Some(outcome),
                _ = interrupts.recv() => None,
            }
        });
        match outcome {
            Some(Ok(())) => {}
            Some(Err(error)) => eprintln!("{error}"),
            None => eprintln!("cancelled"),
        }
        stdout.flush()?;
    }
    Ok(())
}

fn terminal(error: ReadlineError) -> ClientError {
    ClientError::Terminal(error.to_string())
}

/// The line editor, with its history file when there is one.
struct Prompt {
    editor: Editor<PromptHelper, DefaultHistory>,
    history: Option<PathBuf>,
    /// A history that cannot be saved is said once, not after every line.
    history_warned: bool,
}

impl Prompt {
    fn open(color: bool, no_history: bool) -> Result<Self, ClientError> {
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .build();
        let mut editor: Editor<PromptHelper, DefaultHistory> =
            Editor::with_config(config).map_err(terminal)?;
        editor.set_helper(Some(PromptHelper {
            names: commands().into_iter().map(|(name, _)| name).collect(),
            color,
        }));
        let history = if no_history { None } else { history_file() };
        if let Some(path) = &history {
            // No file yet on the first run; any other trouble shows when saving.
            let _ = editor.load_history(path);
        }
        Ok(Self {
            editor,
            history,
            history_warned: false,
        })
    }

    /// The next line that says something, parsed and kept in the history;
    /// `None` at the end of input (Ctrl-D).
    fn read_line(&mut self) -> Result<Option<Line>, ClientError> {
        loop {
            let line = match self.editor.readline(PROMPT) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => return Ok(None),
                Err(error) => return Err(terminal(error)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let parsed = parse(&line);
            // Leaving is not worth recalling: Up after a restart should bring back
            // the last real command.
            if !matches!(parsed, Line::Exit) {
                self.remember(line.trim())?;
            }
            return Ok(Some(parsed));
        }
    }

    fn remember(&mut self, line: &str) -> Result<(), ClientError> {
        self.editor.add_history_entry(line).map_err(terminal)?;
        if let Some(path) = &self.history
            && let Err(error) = save_history(&mut self.editor, path)
            && !self.history_warned
        {
            self.history_warned = true;
            eprintln!(
                "history not saved to {}: {error} (--no-history turns it off)",
                path.display()
            );
        }
        Ok(())
    }
}

fn save_history(
    editor: &mut Editor<PromptHelper, DefaultHistory>,
    path: &std::path::Path,
) -> Result<(), String> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|error| error.to_string())?;
    }
    editor.save_history(path).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use container_info_wire::nodes::NodeStatus;

    #[test]
    fn unknown_commands_get_the_nearest_and_the_list() {
        let Line::Wrong(message) = parse("gte") else {
            panic!("gte is no command");
        };
        assert!(message.contains("did you mean \"get\"?"), "{message}");
        for name in [
            "post", "get", "history", "nodes", "whoami", "ping", "help", "exit", "quit",
        ] {
            assert!(message.contains(name), "{name} missing from: {message}");
        }
        let Line::Wrong(message) = parse("wohami --json") else {
            panic!("wohami is no command");
        };
        assert!(message.contains("did you mean \"whoami\"?"), "{message}");
        let Line::Wrong(message) = parse("nodse") else {
            panic!("nodse is no command");
        };
        assert!(message.contains("did you mean \"nodes\"?"), "{message}");
    }

    #[test]
    fn nodes_parses_a_name_or_a_status_but_not_both() {
        let Line::Run(command) = parse("nodes --status stale --json") else {
            panic!("a valid nodes");
        };
        let Command::Nodes(nodes) = *command else {
            panic!("parsed as another command");
        };
        assert_eq!(
            (nodes.name, nodes.status, nodes.json),
            (None, Some(NodeStatus::Stale), true)
        );
        let Line::Run(command) = parse("nodes worker-1") else {
            panic!("a valid nodes");
        };
        let Command::Nodes(nodes) = *command else {
            panic!("parsed as another command");
        };
        assert_eq!(nodes.name.as_deref(), Some("worker-1"));
        let Line::Wrong(message) = parse("nodes --status down") else {
            panic!("down is no node status");
        };
        assert!(
            message.contains("[possible values: up, stale]"),
            "{message}"
        );
        let Line::Wrong(message) = parse("nodes worker-1 --status up") else {
            panic!("a name and a status filter together");
        };
        assert!(message.contains("cannot be used with"), "{message}");
    }

    #[test]
    fn completion_and_hints_know_nodes() {
        let helper = PromptHelper {
            names: commands().into_iter().map(|(name, _)| name).collect(),
            color: false,
        };
        let history = DefaultHistory::new();
        let context = Context::new(&history);
        assert_eq!(
            helper.complete("no", 2, &context).unwrap(),
            (0, vec!["nodes".to_owned()])
        );
        assert_eq!(helper.hint("nod", 3, &context).as_deref(), Some("es"));
    }

    #[test]
    fn lines_parse_as_the_command_line_does() {
        assert!(matches!(parse("exit"), Line::Exit));
        assert!(matches!(parse("  quit  "), Line::Exit));
        assert!(matches!(parse("help get"), Line::Help(Some(topic)) if topic == "get"));
        let Line::Run(command) = parse("get --state running --limit 3") else {
            panic!("a valid get");
        };
        let Command::Get(get) = *command else {
            panic!("parsed as another command");
        };
        assert_eq!(get.limit, Some(3));
        let Line::Wrong(message) = parse("get --state sleeping") else {
            panic!("sleeping is no state");
        };
        assert!(message.contains("sleeping"), "{message}");
        assert!(
            message.contains("removed"),
            "the states are listed: {message}"
        );
        let Line::Run(command) = parse("get --service shop_web --stack shop --node-status up")
        else {
            panic!("a valid get");
        };
        let Command::Get(get) = *command else {
            panic!("parsed as another command");
        };
        assert_eq!(
            (
                get.service.as_deref(),
                get.stack.as_deref(),
                get.node_status
            ),
            (Some("shop_web"), Some("shop"), Some(NodeStatus::Up))
        );
    }

    #[test]
    fn help_lists_every_command_with_one_line() {
        let text = help(None);
        for (name, about) in commands() {
            assert!(
                text.lines()
                    .any(|line| line.trim_start().starts_with(&name) && line.contains(&about)),
                "{name} missing from:\n{text}"
            );
        }
        assert!(help(Some("history")).contains("--limit"));
    }
}
