//! How each implementation is drawn, the same in every chart and table: one colour, keyed by the
//! implementation's position in `results.implementations` (names that only appear in cells follow, in
//! order of first appearance), and whether it is a reference (drawn dashed, listed beside rankings).

use crate::results::Results;

/// Colour-blind-aware qualitative palette (Tableau 10, then darker companions).
const COLORS: &[(u8, u8, u8)] = &[
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (57, 59, 121),
    (99, 121, 57),
    (132, 60, 57),
    (123, 65, 115),
    (49, 130, 189),
    (230, 85, 13),
];

/// Implementation name → colour and reference label.
#[derive(Debug, Clone)]
pub struct Palette {
    names: Vec<String>,
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
        let references = results
            .implementations
            .iter()
            .filter_map(|i| Some((i.name.clone(), i.reference_text()?.to_string())))
            .collect();
        Palette { names, references }
    }

    /// A palette over `names` with the given (name, label) references; for tests and tools that have
    /// no results file.
    pub fn from_names(names: &[&str], references: &[(&str, &str)]) -> Self {
        Palette {
            names: names.iter().map(|n| n.to_string()).collect(),
            references: references
                .iter()
                .map(|(n, l)| (n.to_string(), l.to_string()))
                .collect(),
        }
    }

    /// What `name` is a reference for ("no spawning", "async vs threads"), or `None` for contenders.
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

    /// Position of `name` in the palette order (unknown names go last).
    pub fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or(self.names.len())
    }

    /// The colour of `name`.
    pub fn rgb(&self, name: &str) -> (u8, u8, u8) {
        COLORS[self.index(name) % COLORS.len()]
    }

    /// The colour as CSS hex, e.g. `#1f77b4`.
    pub fn hex(&self, name: &str) -> String {
        let (r, g, b) = self.rgb(name);
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Implementation names in palette order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}
