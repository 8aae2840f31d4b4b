//! Interactive questions for `init` when stdin is a terminal, like `openssl req` asks
//! them, but each answer is validated before the next question.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::{Error, Result};
use crate::output;

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks until `validate` accepts the answer. An empty answer gives `None` when
/// `optional`, and asks again otherwise.
pub fn ask(
    question: &str,
    optional: bool,
    validate: impl Fn(&str) -> Result<()>,
) -> Result<Option<String>> {
    let stdin = std::io::stdin();
    loop {
        let _ = write!(
            std::io::stderr(),
            "{question}{}: ",
            if optional { " (optional)" } else { "" }
        );
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let n = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::read("standard input", e))?;
        if n == 0 {
            return Err(Error::NoAnswer {
                question: question.to_owned(),
            });
        }
        let answer = line.trim();
        if answer.is_empty() {
            if optional {
                return Ok(None);
            }
            output::write_stderr("  This one is required.");
            continue;
        }
        match validate(answer) {
            Ok(()) => return Ok(Some(answer.to_owned())),
            Err(e) => output::write_stderr(&format!("  {e}")),
        }
    }
}
