//! What is wrong with a policy file: every problem one load finds, each with the path of the
//! field it is about (`rules[2].attestations[0].maxAge`), its message and, where the text
//! shows it, the line and column ([`super::locate`]).

use std::collections::BTreeMap;

/// One problem in a policy file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// The field it is about (`rules[2].attestations[0].maxAge`); empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Problem {
    /// `FILE:LINE:COLUMN: PATH: MESSAGE`, leaving out what is not known.
    pub fn render(&self, file: &str) -> String {
        let mut out = file.to_string();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                out.push_str(&format!(":{column}"));
            }
        }
        out.push_str(": ");
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }

    /// A problem serde_yaml_ng found while parsing, at the position it names.
    pub(super) fn syntax(e: &serde_yaml_ng::Error) -> Problem {
        let mut message = e.to_string().replace('\n', " ");
        let (line, column) = match e.location() {
            Some(at) => {
                // The position is given apart: " at line N column M" leaves the message.
                let said = format!(" at line {} column {}", at.line(), at.column());
                if let Some(cut) = message.find(&said) {
                    message.replace_range(cut..cut + said.len(), "");
                }
                (Some(at.line()), Some(at.column()))
            }
            None => (None, None),
        };
        Problem {
            path: String::new(),
            message,
            line,
            column,
        }
    }
}

/// A policy file that cannot be used, with every problem found in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file has these problems (at least one), in the order of the file.
    #[error("{}", summary(file, problems))]
    Invalid {
        /// The file as shown to the user.
        file: String,
        /// Every problem found, by line.
        problems: Vec<Problem>,
    },
}

impl PolicyError {
    /// Every problem found, by line.
    pub fn problems(&self) -> &[Problem] {
        match self {
            PolicyError::Invalid { problems, .. } => problems,
        }
    }
}

/// The first problem, and how many more there are.
fn summary(file: &str, problems: &[Problem]) -> String {
    match problems {
        [] => format!("{file}: invalid policy"),
        [one] => one.render(file),
        [first, rest @ ..] => format!(
            "{} (and {} more problem{})",
            first.render(file),
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

/// Problems collected while a policy loads: the path of the field and the message.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<(String, String)>);

impl Problems {
    /// Add the problem of the field at `path` (a message of several lines becomes one).
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl std::fmt::Display) {
        let message = message.to_string();
        let message = if message.contains('\n') {
            message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            message
        };
        self.0.push((path.into(), message));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The error for these problems, each with the position of its path in `text`, sorted
    /// by position (problems without one last, in the order found).
    pub(super) fn into_error(self, file: &str, text: &str, first: Vec<Problem>) -> PolicyError {
        let at: BTreeMap<String, (usize, usize)> = super::locate::positions(text);
        let mut problems = first;
        for (path, message) in self.0 {
            let pos = super::locate::locate(&at, &path);
            problems.push(Problem {
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                path,
                message,
            });
        }
        problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
        PolicyError::Invalid {
            file: file.to_string(),
            problems,
        }
    }
}
