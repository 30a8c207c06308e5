//! Printing inside git's output: every line starts with `git-dispatch:` and is one line.

/// Prints `git-dispatch: <message>` on stderr (git shows hook stderr to the user), as one
/// line, with any URL credentials removed.
pub fn line(message: &str) {
    use std::io::Write;
    // One write, so lines from parallel deliveries never interleave; and a closed stderr
    // must not abort the hook (eprintln! panics on EPIPE).
    let mut text = format_line(message);
    text.push('\n');
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The text `line` prints.
pub fn format_line(message: &str) -> String {
    format!(
        "git-dispatch: {}",
        crate::redact::line(printable(message).trim())
    )
}

/// `text` with every control character (escape sequences' ESC, newlines) made a space, so
/// text from elsewhere cannot move the cursor or retitle the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` on one line: control characters (newlines among them) become spaces, and runs
/// of white space one space.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prefixed_line() {
        assert_eq!(format_line("a\nb"), "git-dispatch: a b");
        assert_eq!(
            format_line("see https://u:p@h/x"),
            "git-dispatch: see https://h/x"
        );
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(
            one_line("Invalid request.\n\n\"x\"\u{1b}[31m  ok"),
            "Invalid request. \"x\" [31m ok"
        );
    }
}
