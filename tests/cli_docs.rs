//! Every po3ad command line the docs show must parse: the lines of README.md's code
//! blocks and every `--help` example (parse-only: arguments are checked by clap, nothing
//! runs). A renamed flag or a stale value fails here, not in a user's terminal.
//! Inline code spans in the README's prose may leave out required arguments (they name
//! a flag, not a whole run), so for those only unknown flags and bad values fail.

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use po3ad::cli::Cli;

/// Shell words of one command line (quotes, backslash escapes; no expansion).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    has = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The po3ad command lines in `text` (continuation lines joined; comments, pipes and
/// redirections cut off).
fn command_lines(text: &str) -> Vec<String> {
    let mut joined = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim_end();
        if let Some(head) = t.strip_suffix('\\') {
            pending += head;
            pending.push(' ');
            continue;
        }
        pending += t;
        joined.push(std::mem::take(&mut pending));
    }
    let mut out = Vec::new();
    for line in joined {
        let Some(at) = find_command(&line) else {
            continue;
        };
        let mut cmd = line[at..].to_string();
        for cut in [" #", " |", " &&", " ;", " >", "\"", "`"] {
            if let Some(i) = cmd.find(cut) {
                cmd.truncate(i);
            }
        }
        out.push(cmd.trim().to_string());
    }
    out
}

/// Where `po3ad <subcommand>` starts in `line`: at the start of the line, after
/// indentation and a list dash, a `$ ` prompt or an opening quote (prose that merely
/// names a command is not a command line).
fn find_command(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let mut at = line.len() - trimmed.len();
    for prefix in ["- ", "$ ", "\"", "'", "`"] {
        if line[at..].starts_with(prefix) {
            at += prefix.len();
        }
    }
    line[at..].starts_with("po3ad ").then_some(at)
}

/// Shell variables (`${X}`, `$((X + 1))`, `$X`) as a plain value, so the line parses
/// as it would once the shell has expanded them.
fn expand_variables(cmd: &str) -> String {
    let mut out = String::new();
    let mut rest = cmd;
    while let Some(i) = rest.find('$') {
        out += &rest[..i];
        let tail = &rest[i..];
        let end = if tail.starts_with("$((") {
            tail.find("))").map_or(tail.len(), |e| e + 2)
        } else if tail.starts_with("${") {
            tail.find('}').map_or(tail.len(), |e| e + 1)
        } else {
            1 + tail[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len() - 1)
        };
        out.push('1');
        rest = &tail[end..];
    }
    out + rest
}

/// A placeholder such as `DIR`, `I/N` or `KIND` in a prose example.
fn has_placeholder(words: &[String]) -> bool {
    words.iter().skip(2).any(|w| {
        w.chars().any(|c| c.is_ascii_uppercase())
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c == '/' || c == '_')
    })
}

/// Parse `cmd`; Err(message) when it does not parse. `lenient`: missing required
/// arguments are fine.
fn check(cmd: &str, lenient: bool) -> Result<(), String> {
    let words = shell_words(&expand_variables(cmd));
    if words.len() < 2 || words[1].starts_with('<') || words.iter().any(|w| w.contains("...")) {
        return Ok(()); // a placeholder such as `po3ad <command>` or `... --out OUT`
    }
    match Cli::try_parse_from(&words) {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(()),
            ErrorKind::MissingRequiredArgument
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                if lenient =>
            {
                Ok(())
            }
            ErrorKind::InvalidValue | ErrorKind::ValueValidation
                if lenient && has_placeholder(&words) =>
            {
                Ok(())
            }
            _ => Err(format!("`{cmd}`: {e}")),
        },
    }
}

/// Shell code blocks of a Markdown file, and the lines of other code blocks (YAML, where
/// a command line may continue on the next line) plus inline code spans: the latter are
/// checked leniently.
fn markdown_parts(text: &str) -> (String, Vec<String>) {
    let (mut blocks, mut spans) = (String::new(), Vec::new());
    let mut block: Option<String> = None;
    for line in text.lines() {
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(lang.trim().to_string()),
            };
            continue;
        }
        if let Some(lang) = &block {
            if lang == "yaml" {
                spans.push(line.to_string());
            } else {
                blocks += line;
                blocks.push('\n');
            }
        } else {
            for (i, part) in line.split('`').enumerate() {
                if i % 2 == 1 && part.starts_with("po3ad ") {
                    spans.push(part.to_string());
                }
            }
        }
    }
    (blocks, spans)
}

#[test]
fn shell_words_and_command_lines_by_hand() {
    assert_eq!(
        shell_words(r#"po3ad x --a 'b c' "d\"e" f\ g"#),
        ["po3ad", "x", "--a", "b c", "d\"e", "f g"]
    );
    let text =
        "  po3ad a --b c   # note\n  curl x\n- po3ad d \\\n    --e f | tee g\nthe po3ad x y\n";
    assert_eq!(command_lines(text), ["po3ad a --b c", "po3ad d      --e f"]);
    assert_eq!(
        expand_variables("--shard ${I}/12 --k $((J + 1)) $N"),
        "--shard 1/12 --k 1 1"
    );
    // The checker rejects what it should.
    assert!(check("po3ad train --no-such-flag", true).is_err());
    assert!(check("po3ad test --detector no-such-kind --out o", true).is_err());
    assert!(check("po3ad train --detector nearest", true).is_ok());
    assert!(check("po3ad train --detector nearest", false).is_err());
}

#[test]
fn every_readme_command_line_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let (blocks, spans) = markdown_parts(&readme);
    let mut failures = Vec::new();
    let mut checked = 0;
    for cmd in command_lines(&blocks) {
        checked += 1;
        failures.extend(check(&cmd, false).err());
    }
    for span in spans {
        for cmd in command_lines(&span) {
            checked += 1;
            failures.extend(check(&cmd, true).err());
        }
    }
    assert!(
        checked >= 10,
        "only {checked} command lines found in README.md"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_help_example_parses() {
    let root = Cli::command();
    let mut texts = vec![root
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default()];
    for sub in root.get_subcommands() {
        texts.push(
            sub.get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default(),
        );
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for text in &texts {
        for cmd in command_lines(text) {
            checked += 1;
            failures.extend(check(&cmd, false).err());
        }
    }
    assert!(checked >= 30, "only {checked} help examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_flag_has_help_text() {
    let mut missing = Vec::new();
    for sub in Cli::command().get_subcommands() {
        for arg in sub.get_arguments() {
            if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{} --{}", sub.get_name(), arg.get_id()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags without help: {}",
        missing.join(", ")
    );
}
