//! Making untrusted text safe to print: child stderr, implementation names and reasons reach the
//! terminal, and a raw escape sequence (ESC, CR, BEL) or a bidi override there could rewrite or hide
//! what the user reads. Printable text, newlines and tabs pass unchanged.

/// Escapes control characters (C0 except `\n` and `\t`, DEL, C1) as `\u{..}`, and the Unicode
/// bidirectional formatting characters (which reorder what the terminal displays) likewise.
pub fn escape_for_terminal(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true,
        // Bidi marks, embeddings, overrides and isolates.
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi_but_keeps_text() {
        assert_eq!(
            escape_for_terminal("plain ünïcode\tok\n"),
            "plain ünïcode\tok\n"
        );
        assert_eq!(
            escape_for_terminal("\u{1b}[2Jgone\rX\u{7}"),
            "\\u{1b}[2Jgone\\u{d}X\\u{7}"
        );
        assert_eq!(
            escape_for_terminal("abc\u{202e}fed\u{2066}"),
            "abc\\u{202e}fed\\u{2066}"
        );
        assert_eq!(escape_for_terminal("\u{9b}31m"), "\\u{9b}31m");
    }
}
