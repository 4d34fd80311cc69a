//! The terminal renderer of the document outline (`outline.rs`): plain text for the end-of-run
//! summary, so the summary's tables, headings and lists are the same blocks the HTML and Markdown
//! renderers walk, and its numbers are formatted where theirs are. Pure: blocks in, text out.
//!
//! Tables are aligned columns two spaces apart, sized to their widest cell; a column whose cells read
//! as numbers (digits, "≥12k", "(81 µs)", "<50k"), apart from cells with no digit at all ("-",
//! "crashed"), is right-aligned, text columns left-aligned.
//! Blocks only a page can show (figures, the decision matrix, rankings, measurement tables) are the
//! report's, never the summary's: they render as nothing here rather than as a poor copy.

use super::outline::{Block, Inline, Table};
use super::palette::Palette;

/// Renders `blocks` as terminal text (implementations under their report labels).
pub fn render(blocks: &[Block], palette: &Palette) -> String {
    let mut out = String::new();
    for b in blocks {
        block(&mut out, b, palette);
    }
    out
}

fn block(out: &mut String, b: &Block, palette: &Palette) {
    match b {
        Block::Section(s) => {
            if let Some(h) = s.heading {
                out.push('\n');
                out.push_str(h);
                out.push('\n');
            }
            for b in &s.body {
                block(out, b, palette);
            }
        }
        Block::Heading { text, .. } => {
            out.push('\n');
            out.push_str(&inline(text, palette));
            out.push('\n');
        }
        Block::Paragraph(text) => {
            out.push('\n');
            out.push_str(&inline(text, palette));
            out.push('\n');
        }
        Block::Aside(text) => {
            out.push_str(&inline(text, palette));
            out.push('\n');
        }
        Block::Prose(text) | Block::Code { text, .. } => {
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
        Block::List(items) => {
            for item in items {
                out.push_str("  ");
                out.push_str(&inline(item, palette));
                out.push('\n');
            }
        }
        Block::Table(t) => table(out, t, palette),
        Block::Details { summary, body, .. } => {
            out.push('\n');
            out.push_str(summary);
            out.push('\n');
            for b in body {
                block(out, b, palette);
            }
        }
        Block::Columns { main, .. } => {
            for b in main {
                block(out, b, palette);
            }
        }
        Block::Figure(_)
        | Block::Caveats(_)
        | Block::Matrix(_)
        | Block::Ranking { .. }
        | Block::Measurements(_)
        | Block::Implementations(_) => {}
    }
}

/// Inline runs as plain text: emphasis and colour have no place in a terminal line.
fn inline(runs: &[Inline], palette: &Palette) -> String {
    runs.iter()
        .map(|r| match r {
            Inline::Text(s)
            | Inline::Own(s)
            | Inline::Strong(s)
            | Inline::Code(s)
            | Inline::Key(s)
            | Inline::Good(s)
            | Inline::Bad(s) => s.clone(),
            Inline::Impl(name) => palette.label(name),
            Inline::Link { text, .. } => text.clone(),
        })
        .collect()
}

/// Whether a cell reads as a number (right-aligned in its column).
fn numeric(cell: &str) -> bool {
    let c = cell.trim_start_matches(['≥', '(', '~', '<', '>', ' ']);
    c.starts_with(|ch: char| ch.is_ascii_digit())
}

/// A cell with no digit at all ("-", "crashed", "LEAK"): it says nothing about its column's kind.
fn neutral(cell: &str) -> bool {
    !cell.chars().any(|ch| ch.is_ascii_digit())
}

/// Space between columns: two, so a right-aligned number never reads as part of the text before it.
const GUTTER: &str = "  ";

fn table(out: &mut String, t: &Table, palette: &Palette) {
    let body: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|row| row.iter().map(|c| inline(c, palette)).collect())
        .collect();
    let columns = t
        .header
        .as_ref()
        .map_or(0, Vec::len)
        .max(body.iter().map(Vec::len).max().unwrap_or(0));
    let width = |i: usize| {
        t.header
            .iter()
            .flat_map(|h| h.get(i))
            .chain(body.iter().filter_map(|r| r.get(i)))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let right: Vec<bool> = (0..columns)
        .map(|i| {
            i > 0
                && body.iter().any(|r| r.get(i).is_some_and(|s| numeric(s)))
                && body
                    .iter()
                    .all(|r| r.get(i).is_none_or(|s| numeric(s) || neutral(s)))
        })
        .collect();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map_or("", String::as_str);
            if i > 0 {
                l.push_str(GUTTER);
            }
            let pad = w.saturating_sub(c.chars().count());
            if right[i] {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    if let Some(h) = &t.header {
        line(h);
    }
    for r in &body {
        line(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Results;

    fn palette() -> Palette {
        let text = include_str!("../../tests/fixtures/small.json");
        let r: Results = serde_json::from_str(text).expect("fixture");
        Palette::new(&r)
    }

    fn cell(s: &str) -> Vec<Inline> {
        vec![Inline::Text(s.into())]
    }

    #[test]
    fn tables_align_numbers_right_and_text_left() {
        let palette = palette();
        let t = Table {
            header: Some(vec!["impl".into(), "msgs/s".into(), "verdict".into()]),
            rows: vec![
                vec![cell("rust-tokio"), cell("≥118.9k"), cell("ok")],
                vec![cell("go"), cell("9.5k"), cell("VIOLATED")],
                vec![cell("node"), cell("crashed"), cell("-")],
            ],
            row_headers: true,
        };
        let text = render(&[Block::Table(t)], &palette);
        assert_eq!(
            text,
            "impl         msgs/s  verdict\nrust-tokio  ≥118.9k  ok\ngo             9.5k  VIOLATED\nnode        crashed  -\n"
        );
    }

    #[test]
    fn headings_paragraphs_lists_and_prose_keep_their_spacing() {
        let palette = palette();
        let blocks = [
            Block::Heading {
                level: 3,
                text: cell("echo"),
            },
            Block::Aside(cell("a note")),
            Block::List(vec![cell("first"), vec![Inline::Strong("second".into())]]),
            Block::Prose("as is".into()),
            Block::Paragraph(cell("last")),
        ];
        assert_eq!(
            render(&blocks, &palette),
            "\necho\na note\n  first\n  second\nas is\n\nlast\n"
        );
    }
}
