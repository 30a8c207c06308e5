//! A block of lines redrawn in place on a terminal (`watch`): each line fitted to the
//! terminal's width, asked again before every draw (a resize, SIGWINCH, is seen at the next
//! draw), and the rows drawn counted as the terminal shows them, so a redraw never leaves
//! old text behind.

use std::io::Write;

/// The block last drawn, to be replaced by the next.
#[derive(Default)]
pub struct Block {
    /// The lines last drawn, as written (each at most the width then).
    drawn: Vec<String>,
    /// The width they were fitted to.
    cols: usize,
}

impl Block {
    /// Replaces what was drawn with `lines`, each fitted to the terminal's width now.
    pub fn draw(&mut self, out: &mut impl Write, lines: &[String]) -> std::io::Result<()> {
        let cols = width();
        let mut text = self.erase_text(cols);
        let fitted: Vec<String> = lines.iter().flat_map(|l| fit(l, cols)).collect();
        for line in &fitted {
            text.push_str(line);
            text.push('\n');
        }
        // One write: the block never shows half drawn.
        out.write_all(text.as_bytes())?;
        out.flush()?;
        self.drawn = fitted;
        self.cols = cols;
        Ok(())
    }

    /// Whether the terminal's width changed since the last draw (a resize): the block is
    /// then drawn again at once, not at its next change.
    pub fn resized(&self) -> bool {
        !self.drawn.is_empty() && self.cols != width()
    }

    /// Erases what was drawn, so that a line written next (a notice on stderr) stands
    /// where the block was and the block is drawn again below it.
    pub fn erase(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let text = self.erase_text(width());
        self.drawn.clear();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Up to the block's first row, and clear to the end of the screen. The rows are
    /// counted at the width now: a terminal that was resized has reflowed them.
    fn erase_text(&self, cols: usize) -> String {
        let rows: usize = self.drawn.iter().map(|l| rows(l, cols)).sum();
        if rows == 0 {
            return String::new();
        }
        format!("\x1b[{rows}A\r\x1b[J")
    }
}

/// The terminal's width in columns (stdout's, else stderr's); 80 when it cannot be told.
pub fn width() -> usize {
    for fd in [1, 2] {
        // SAFETY: TIOCGWINSZ fills a winsize and touches nothing else.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0 && size.ws_col > 0 {
            return size.ws_col as usize;
        }
    }
    80
}

/// How many rows `line` takes on a terminal `cols` wide.
fn rows(line: &str, cols: usize) -> usize {
    line.chars().count().div_ceil(cols.max(1)).max(1)
}

/// `line` as rows of at most `cols` characters: a URL that does not fit beside the words
/// goes whole on its own row (indented; wrapped by the terminal only if it is wider than
/// the screen, and counted so), and words too long are cut in the middle.
pub fn fit(line: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(20);
    if line.chars().count() <= cols {
        return vec![line.to_string()];
    }
    let mut out = Vec::new();
    let mut words = String::new();
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        if word.starts_with("https://") || word.starts_with("http://") {
            if !words.is_empty() {
                out.push(cut(&words, cols));
                words.clear();
            }
            out.push(format!("  {word}"));
        } else {
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(word);
        }
    }
    if !words.is_empty() {
        out.push(cut(&words, cols));
    }
    out
}

/// `text` cut to `cols` characters. A line says `<target -> repo sha>: <how it stands>`:
/// the part before the first `: ` is cut in its middle first, so the state is read whole;
/// only when that leaves too little of the target is the whole line cut in its middle.
fn cut(text: &str, cols: usize) -> String {
    if let Some((head, tail)) = text.split_once(": ") {
        let room = cols.saturating_sub(tail.chars().count() + 2);
        if room >= 16 {
            return format!("{}: {tail}", cut_middle(head, room));
        }
    }
    cut_middle(text, cols)
}

/// `text` cut to `cols` characters by an ellipsis in its middle: its start and its end
/// both stay.
fn cut_middle(text: &str, cols: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= cols {
        return text.to_string();
    }
    let head = (cols - 1) / 2;
    let tail = cols - 1 - head;
    let mut cut: String = chars[..head].iter().collect();
    cut.push('…');
    cut.extend(&chars[chars.len() - tail..]);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_fits_with_its_url_whole_on_a_row_of_its_own() {
        let line = "site -> owner/a-rather-long-site-name 3f2a9c1: building for 1m12s: build / \
                    Run astro build  https://github.com/owner/a-rather-long-site-name/actions/runs/9000";
        let rows = fit(line, 80);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            rows[1],
            "  https://github.com/owner/a-rather-long-site-name/actions/runs/9000"
        );
        // The target's name and the sha stay, cut between; the state is whole.
        assert_eq!(
            rows[0],
            "site -> owner/a-r…site-name 3f2a9c1: building for 1m12s: build / Run astro build"
        );
        assert_eq!(rows[0].chars().count(), 80);
        // Too little room for the target beside the state: the line is cut in its middle.
        let narrow = fit(
            "site -> owner/s 3f2a9c1: failed: a job name far too long to fit in",
            40,
        );
        assert_eq!(narrow, vec!["site -> owner/s 3f2…r too long to fit in"]);
        assert!(rows.iter().all(|r| r.chars().count() <= 80), "{rows:?}");
        assert!(rows[0].starts_with("site -> owner/") && rows[0].ends_with("Run astro build"));
        assert_eq!(fit("short", 80), vec!["short"]);
    }

    #[test]
    fn rows_are_counted_as_the_terminal_wraps_them() {
        assert_eq!(rows("", 80), 1);
        assert_eq!(rows(&"x".repeat(80), 80), 1);
        assert_eq!(rows(&"x".repeat(81), 80), 2);
        let mut block = Block {
            drawn: vec!["a".into(), "x".repeat(100)],
            cols: 80,
        };
        assert_eq!(block.erase_text(80), "\x1b[3A\r\x1b[J");
        let mut out = Vec::new();
        block.erase(&mut out).unwrap();
        assert!(block.erase_text(80).is_empty());
    }
}
