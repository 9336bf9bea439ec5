//! The results table: one row per figure, with its target, every run, the median and a verdict.

use std::fmt::Write as _;

/// Which way a figure is good.
#[derive(Clone, Copy)]
pub enum Goal {
    /// At least the target (throughputs).
    AtLeast(f64),
    /// At most the target (latencies, memory, counts).
    AtMost(f64),
    /// Exactly the target (request counts).
    Exactly(f64),
    /// Shown for context, no target.
    Info,
}

/// One figure: what it is, its unit, its target and the value of every run.
pub struct Row {
    pub figure: String,
    pub unit: &'static str,
    pub goal: Goal,
    pub runs: Vec<f64>,
}

impl Row {
    pub fn new(figure: impl Into<String>, unit: &'static str, goal: Goal, runs: Vec<f64>) -> Self {
        Self {
            figure: figure.into(),
            unit,
            goal,
            runs,
        }
    }

    pub fn median(&self) -> f64 {
        median(&self.runs)
    }

    fn target(&self) -> String {
        match self.goal {
            Goal::AtLeast(t) => format!(">= {} {}", number(t), self.unit),
            Goal::AtMost(t) => format!("<= {} {}", number(t), self.unit),
            Goal::Exactly(t) => format!("= {} {}", number(t), self.unit),
            Goal::Info => "-".into(),
        }
    }

    fn verdict(&self) -> &'static str {
        let m = self.median();
        match self.goal {
            Goal::AtLeast(t) if m >= t => "met",
            Goal::AtMost(t) if m <= t => "met",
            Goal::Exactly(t) if self.runs.iter().all(|r| *r == t) => "met",
            Goal::Info => "",
            _ => "MISSED",
        }
    }

    fn measured(&self) -> String {
        let mut sorted = self.runs.clone();
        sorted.sort_by(f64::total_cmp);
        match (sorted.first(), sorted.last()) {
            (Some(lo), Some(hi)) if sorted.len() > 1 => {
                format!("{} .. {}", number(*lo), number(*hi))
            }
            (Some(one), _) => number(*one),
            _ => "-".into(),
        }
    }
}

/// The median of some runs (mean of the middle two for an even count).
pub fn median(runs: &[f64]) -> f64 {
    let mut v = runs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A number with thousands separators and as many decimals as its size deserves.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let decimals = match x.abs() {
        a if a >= 100.0 || a.fract() == 0.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{x:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Renders the rows as a Markdown table (it reads as well in a terminal as in the README).
pub fn render(rows: &[Row]) -> String {
    let header = [
        "figure",
        "target",
        "measured (min .. max)",
        "runs",
        "median",
        "",
    ];
    let body: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.clone(),
                r.target(),
                format!("{} {}", r.measured(), r.unit),
                r.runs.len().to_string(),
                format!("{} {}", number(r.median()), r.unit),
                r.verdict().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        out.push('|');
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(out, " {cell:<w$} |");
        }
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    line(&mut out, &widths.map(|w| "-".repeat(w)));
    for row in &body {
        line(&mut out, row);
    }
    out
}
