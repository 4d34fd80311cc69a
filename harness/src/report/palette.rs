//! How an implementation looks in every table and chart: its colour, marker shape and line style, and the
//! label it is shown under.
//!
//! Colours are fixed per implementation *name*, never by position in a list, so `--impl` subsets and
//! later runs keep every colour. Known names get a hand-picked style from a colour-blind-safe palette
//! (Okabe–Ito, then Paul Tol's "muted" colours when more than eight are needed); implementations that
//! share a colour differ in marker shape and dash pattern, so no two known names look alike even in
//! greyscale. Unknown names get a style from a hash of the name (stable, but may collide).
//!
//! The palette also knows which implementations are references (from the results, manifest
//! `reference = true`): drawn dashed, listed beside rankings, never ranked.

use crate::results::Results;
use std::collections::BTreeMap;

/// A series marker shape (lines) — also drawn in the HTML legend swatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Plus,
}

/// How one implementation is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub rgb: (u8, u8, u8),
    pub marker: Marker,
    /// Dashed lines: reference implementations and variants of another implementation.
    pub dashed: bool,
}

// Okabe & Ito (2008), "Color Universal Design".
const OI_ORANGE: (u8, u8, u8) = (0xe6, 0x9f, 0x00);
const OI_SKY: (u8, u8, u8) = (0x56, 0xb4, 0xe9);
const OI_GREEN: (u8, u8, u8) = (0x00, 0x9e, 0x73);
const OI_YELLOW: (u8, u8, u8) = (0xc9, 0xb8, 0x00); // Okabe–Ito yellow darkened to be legible on white
const OI_BLUE: (u8, u8, u8) = (0x00, 0x72, 0xb2);
const OI_VERMILLION: (u8, u8, u8) = (0xd5, 0x5e, 0x00);
const OI_PURPLE: (u8, u8, u8) = (0xcc, 0x79, 0xa7);
const OI_BLACK: (u8, u8, u8) = (0x00, 0x00, 0x00);
// Paul Tol, "muted" scheme: colour-blind safe companions.
const TOL_INDIGO: (u8, u8, u8) = (0x33, 0x22, 0x88);
const TOL_WINE: (u8, u8, u8) = (0x88, 0x22, 0x55);
const TOL_OLIVE: (u8, u8, u8) = (0x99, 0x99, 0x33);
const TOL_TEAL: (u8, u8, u8) = (0x44, 0xaa, 0x99);
const GREY: (u8, u8, u8) = (0x88, 0x88, 0x88);
const DARK_GREY: (u8, u8, u8) = (0x44, 0x44, 0x44);

const fn st(rgb: (u8, u8, u8), marker: Marker, dashed: bool) -> Style {
    Style {
        rgb,
        marker,
        dashed,
    }
}

/// The style of every implementation the project ships.
const KNOWN: &[(&str, Style)] = &[
    ("rust-tokio", st(OI_BLUE, Marker::Circle, false)),
    ("rust-tokio-ct", st(OI_SKY, Marker::Square, false)),
    ("rust-async-std", st(OI_PURPLE, Marker::Triangle, false)),
    ("rust-smol", st(OI_GREEN, Marker::Diamond, false)),
    ("rust-monoio", st(OI_VERMILLION, Marker::Square, false)),
    ("rust-glommio", st(OI_ORANGE, Marker::Triangle, false)),
    ("rust-join-all", st(GREY, Marker::Plus, true)),
    ("rust-threads", st(DARK_GREY, Marker::Cross, true)),
    ("rust-futures", st(TOL_TEAL, Marker::Circle, false)),
    ("go", st(OI_BLACK, Marker::Diamond, false)),
    ("node", st(OI_YELLOW, Marker::Circle, false)),
    ("csharp", st(TOL_INDIGO, Marker::Cross, false)),
    ("python-asyncio", st(TOL_WINE, Marker::Circle, false)),
    ("python-uvloop", st(TOL_OLIVE, Marker::Square, false)),
    (
        "python-asyncio-streams",
        st(TOL_WINE, Marker::Triangle, true),
    ),
    (
        "python-uvloop-streams",
        st(TOL_OLIVE, Marker::Diamond, true),
    ),
];

/// Colours for names not in [`KNOWN`].
const FALLBACK: &[(u8, u8, u8)] = &[
    OI_ORANGE,
    OI_SKY,
    OI_GREEN,
    OI_BLUE,
    OI_VERMILLION,
    OI_PURPLE,
    TOL_INDIGO,
    TOL_WINE,
    TOL_OLIVE,
    TOL_TEAL,
];
const MARKERS: &[Marker] = &[
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
    Marker::Plus,
];

/// FNV-1a: a stable hash (std's hasher is randomly seeded per process).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The style of `name`, independent of any other name.
pub fn style_of(name: &str) -> Style {
    if let Some((_, s)) = KNOWN.iter().find(|(n, _)| *n == name) {
        return *s;
    }
    let h = fnv1a(name);
    st(
        FALLBACK[(h % FALLBACK.len() as u64) as usize],
        MARKERS[((h / FALLBACK.len() as u64) % MARKERS.len() as u64) as usize],
        false,
    )
}

/// The runtime's name and major.minor version from a reported runtime string: "Mono 6.8.0.105" →
/// "Mono 6.8", ".NET 8.0.4" → ".NET 8.0", "go1.26.8" → "go1.26", "CPython 3.11.7 asyncio" →
/// "CPython 3.11". Words after the version are dropped; text without a version is kept whole.
pub fn runtime_major_minor(detail: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in detail.split_whitespace() {
        if let Some(start) = w.find(|c: char| c.is_ascii_digit()) {
            let (prefix, rest) = w.split_at(start);
            let parts: Vec<&str> = rest
                .split('.')
                .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .collect();
            if parts.len() >= 2 {
                words.push(format!("{prefix}{}.{}", parts[0], parts[1]));
                return words.join(" ");
            }
        }
        words.push(w.to_string());
    }
    detail.trim().to_string()
}

/// Implementation name → colour, marker and display label.
#[derive(Debug, Clone)]
pub struct Palette {
    /// Names in report order: `results.implementations`, then names that only appear in cells.
    names: Vec<String>,
    labels: BTreeMap<String, String>,
    /// Reference implementations and what each stands for (from the results, not a hard-coded list).
    references: Vec<(String, String)>,
}

impl Palette {
    pub fn new(results: &Results) -> Self {
        let mut names: Vec<String> = results
            .implementations
            .iter()
            .map(|i| i.name.clone())
            .collect();
        for c in &results.cells {
            if !names.contains(&c.implementation) {
                names.push(c.implementation.clone());
            }
        }
        let labels = results
            .implementations
            .iter()
            .filter(|i| i.runtime_in_label)
            .filter_map(|i| {
                let detail = i.runtime_detail.as_deref()?.trim();
                (!detail.is_empty()).then(|| {
                    (
                        i.name.clone(),
                        format!("{} ({})", i.name, runtime_major_minor(detail)),
                    )
                })
            })
            .collect();
        let references = results
            .implementations
            .iter()
            .filter_map(|i| Some((i.name.clone(), i.reference_text()?.to_string())))
            .collect();
        Palette {
            names,
            labels,
            references,
        }
    }

    /// A palette over `names` with the given (name, label) references and no runtime labels; for tests
    /// and tools that have no results file.
    pub fn from_names(names: &[&str], references: &[(&str, &str)]) -> Self {
        Palette {
            names: names.iter().map(|n| n.to_string()).collect(),
            labels: BTreeMap::new(),
            references: references
                .iter()
                .map(|(n, l)| (n.to_string(), l.to_string()))
                .collect(),
        }
    }

    /// A palette without labels, order or references (every name shown as itself).
    pub fn empty() -> Self {
        Self::from_names(&[], &[])
    }

    /// What the reference implementation `name` stands for ("no spawning"); `None` for contenders.
    pub fn reference(&self, name: &str) -> Option<&str> {
        self.references
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.as_str())
    }

    /// Whether `name` is a reference implementation.
    pub fn is_reference(&self, name: &str) -> bool {
        self.reference(name).is_some()
    }

    /// Position of `name` in report order (unknown names go last). Orders rows, never colours.
    pub fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or(self.names.len())
    }

    /// How `name` is drawn.
    pub fn style(&self, name: &str) -> Style {
        style_of(name)
    }

    /// The colour of `name`.
    pub fn rgb(&self, name: &str) -> (u8, u8, u8) {
        style_of(name).rgb
    }

    /// The colour as CSS hex, e.g. `#0072b2`.
    pub fn hex(&self, name: &str) -> String {
        let (r, g, b) = self.rgb(name);
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// What readers see for `name`: the name, or `name (Runtime major.minor)` when the manifest set
    /// `runtime_in_label`.
    pub fn label(&self, name: &str) -> String {
        self.labels
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// Implementation names in report order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor_of_reported_runtimes() {
        assert_eq!(runtime_major_minor("Mono 6.8.0.105"), "Mono 6.8");
        assert_eq!(runtime_major_minor(".NET 8.0.4"), ".NET 8.0");
        assert_eq!(runtime_major_minor("go1.26.8"), "go1.26");
        assert_eq!(
            runtime_major_minor("CPython 3.11.7 asyncio"),
            "CPython 3.11"
        );
        assert_eq!(runtime_major_minor("node v20.20.2"), "node v20.20");
        assert_eq!(runtime_major_minor("custom"), "custom");
    }

    #[test]
    fn styles_depend_on_the_name_only_and_known_names_are_distinct() {
        assert_eq!(style_of("rust-tokio"), style_of("rust-tokio"));
        assert_eq!(style_of("some-new-impl"), style_of("some-new-impl"));
        for (i, (a, sa)) in KNOWN.iter().enumerate() {
            for (b, sb) in &KNOWN[i + 1..] {
                assert!(
                    sa.rgb != sb.rgb || sa.marker != sb.marker,
                    "{a} and {b} look alike"
                );
            }
        }
    }
}
