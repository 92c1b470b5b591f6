//! The per-category results table of one model on one benchmark, and its four
//! renderings: CSV (for tools), JSON (for tools, lossless), Markdown (for people, beside
//! the paper's numbers) and an aligned plain-text table (for the terminal).
//!
//! Metrics are fractions in [0, 1] everywhere except the Markdown table, which shows
//! percentages with one decimal like the paper does. A metric that could not be
//! computed (e.g. a category without anomalous points) is NaN: "NaN" in CSV and in the
//! terminal, "–" in Markdown, `null` in JSON; means skip it.

use super::paper::PaperTable;
use super::write::write_output;
use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The exact CSV header of [`ResultsTable::to_csv`].
pub const CSV_HEADER: &str =
    "category,object_auroc,object_ap,point_auroc,point_ap,train_seconds,test_seconds";

/// Results of one category. Metrics are fractions in [0, 1]; times are wall seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryResult {
    pub category: String,
    #[serde(deserialize_with = "nan_if_null")]
    pub object_auroc: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub object_ap: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub point_auroc: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub point_ap: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub train_seconds: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub test_seconds: f64,
    /// Object AUROC of each defect kind: that kind's scans against the normal scans
    /// (kinds come from the test files' names or folders; empty when unknown).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_defect: BTreeMap<String, f64>,
}

impl CategoryResult {
    fn metrics(&self) -> [(&'static str, f64); 4] {
        [
            ("object_auroc", self.object_auroc),
            ("object_ap", self.object_ap),
            ("point_auroc", self.point_auroc),
            ("point_ap", self.point_ap),
        ]
    }
}

/// serde_json writes NaN as `null`; read it back as NaN so JSON round-trips.
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// All categories of one model on one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsTable {
    pub model: String,
    pub rows: Vec<CategoryResult>,
    /// How the scores were made: detector kind, `label` (what the scores are, e.g.
    /// "po3ad `cpu` (object score: template distance)"), preset and its hash, test-time
    /// weights and rules, frame mode, tool version. Empty for tables from older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scoring: BTreeMap<String, String>,
}

/// What [`ResultsTable::to_json`] writes: the table plus its mean row, so a reader of
/// the file need not recompute it. `ResultsTable` reads this back (ignoring `mean`).
#[derive(Serialize)]
struct JsonView<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    scoring: &'a BTreeMap<String, String>,
    rows: &'a [CategoryResult],
    mean: CategoryResult,
}

impl ResultsTable {
    /// The row "mean": every column averaged over the categories where it is not NaN
    /// (NaN when it is NaN everywhere, or there are no rows).
    pub fn mean(&self) -> CategoryResult {
        let avg = |f: fn(&CategoryResult) -> f64| {
            let v: Vec<f64> = self.rows.iter().map(f).filter(|x| !x.is_nan()).collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let mut kinds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &self.rows {
            for (k, v) in &r.by_defect {
                if !v.is_nan() {
                    kinds.entry(k.clone()).or_default().push(*v);
                }
            }
        }
        let by_defect = kinds
            .into_iter()
            .map(|(k, v)| (k, v.iter().sum::<f64>() / v.len() as f64))
            .collect();
        CategoryResult {
            by_defect,
            category: "mean".into(),
            object_auroc: avg(|r| r.object_auroc),
            object_ap: avg(|r| r.object_ap),
            point_auroc: avg(|r| r.point_auroc),
            point_ap: avg(|r| r.point_ap),
            train_seconds: avg(|r| r.train_seconds),
            test_seconds: avg(|r| r.test_seconds),
        }
    }

    /// Fails when a metric is a number outside [0, 1] (most likely a percentage passed
    /// where a fraction belongs) or a time is negative.
    pub fn validate(&self) -> Result<()> {
        for r in &self.rows {
            for (name, v) in r.metrics() {
                if !v.is_nan() && !(0.0..=1.0).contains(&v) {
                    return Err(Error::Invalid(format!(
                        "category {}: {name} = {v} is not a fraction in [0, 1]",
                        r.category
                    )));
                }
            }
            for (name, v) in [
                ("train_seconds", r.train_seconds),
                ("test_seconds", r.test_seconds),
            ] {
                if v < 0.0 {
                    return Err(Error::Invalid(format!(
                        "category {}: {name} = {v} is negative",
                        r.category
                    )));
                }
            }
        }
        Ok(())
    }

    /// CSV with the header [`CSV_HEADER`], one row per category in table order, then
    /// the row `mean`. Metrics with 4 decimals, seconds with 1 decimal.
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let mean = self.mean();
        let rows = self.rows.iter().chain(std::iter::once(&mean));
        // Writing into a Vec cannot fail; an error here would be a bug in this module,
        // so the record is skipped rather than aborting (and tests would catch it).
        let _ = w.write_record(CSV_HEADER.split(','));
        for r in rows {
            let _ = w.write_record([
                r.category.clone(),
                format!("{:.4}", r.object_auroc),
                format!("{:.4}", r.object_ap),
                format!("{:.4}", r.point_auroc),
                format!("{:.4}", r.point_ap),
                format!("{:.1}", r.train_seconds),
                format!("{:.1}", r.test_seconds),
            ]);
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// What the table's scores are: the `label` of [`Self::scoring`], else the model.
    pub fn label(&self) -> &str {
        self.scoring
            .get("label")
            .map(String::as_str)
            .unwrap_or(&self.model)
    }

    /// Pretty JSON: `{"model", "scoring": {...}, "rows": [...], "mean": {...}}`; NaN
    /// becomes `null`.
    pub fn to_json(&self) -> String {
        let view = JsonView {
            model: &self.model,
            scoring: &self.scoring,
            rows: &self.rows,
            mean: self.mean(),
        };
        // Plain structs of strings and numbers always serialize.
        serde_json::to_string_pretty(&view).unwrap_or_default() + "\n"
    }

    /// A Markdown table for people, metrics in percent with one decimal. With `paper`,
    /// the paper's per-category object (and point, where published) AUROC stand next
    /// to ours; the mean row's paper column averages the paper over the categories
    /// where ours is a number too, so the two means compare like with like.
    pub fn to_markdown(&self, paper: Option<&PaperTable>) -> String {
        let show_paper_point = paper.is_some_and(|p| p.rows.iter().any(|r| r.2.is_some()));
        let mut header = vec!["category", "obj AUROC"];
        if paper.is_some() {
            header.push("obj AUROC (paper)");
        }
        header.extend(["obj AP", "point AUROC"]);
        if show_paper_point {
            header.push("point AUROC (paper)");
        }
        header.extend(["point AP", "train s", "test s"]);

        let mut out = format!("### {}\n\n", escape_md(self.label()));
        if !self.scoring.is_empty() {
            let parts: Vec<String> = self
                .scoring
                .iter()
                .filter(|(k, _)| k.as_str() != "label")
                .map(|(k, v)| format!("{k} = `{}`", v.replace('`', "'")))
                .collect();
            out += &format!("Scoring: {}\n\n", parts.join(", "));
        }
        out += &format!("| {} |\n", header.join(" | "));
        out += &format!(
            "|{}\n",
            header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        let (mut paper_obj, mut paper_pt) = (Vec::new(), Vec::new());
        let line = |r: &CategoryResult, p: (Option<f64>, Option<f64>)| {
            let mut cells = vec![escape_md(&r.category), pct(r.object_auroc)];
            if paper.is_some() {
                cells.push(paper_cell(p.0));
            }
            cells.extend([pct(r.object_ap), pct(r.point_auroc)]);
            if show_paper_point {
                cells.push(paper_cell(p.1));
            }
            cells.extend([pct(r.point_ap), secs(r.train_seconds), secs(r.test_seconds)]);
            format!("| {} |\n", cells.join(" | "))
        };
        for r in &self.rows {
            let p = paper
                .and_then(|t| t.get(&r.category))
                .unwrap_or((None, None));
            // Only where we have a number too, so both means cover the same categories.
            paper_obj.extend(p.0.filter(|_| !r.object_auroc.is_nan()));
            paper_pt.extend(p.1.filter(|_| !r.point_auroc.is_nan()));
            out += &line(r, p);
        }
        let mean_of = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let mut mean = self.mean();
        mean.category = "**mean**".into();
        out += &line(&mean, (mean_of(&paper_obj), mean_of(&paper_pt)));
        out += &self.defect_markdown();
        if let Some(t) = paper {
            out += &format!(
                "\nPaper: PO3AD (CVPR 2025), {}; paper columns are as published (%), their \
                 mean is over the categories above where both have a number. Stated means over all {} categories: \
                 object AUROC {}, point AUROC {}.\n",
                t.dataset,
                t.rows.len(),
                opt1(t.stated_object_auroc),
                opt1(t.stated_point_auroc)
            );
        }
        out
    }

    /// The object AUROC of each defect kind, per category and mean (empty when no row
    /// knows its defect kinds).
    fn defect_markdown(&self) -> String {
        let kinds: std::collections::BTreeSet<&String> =
            self.rows.iter().flat_map(|r| r.by_defect.keys()).collect();
        if kinds.is_empty() {
            return String::new();
        }
        let mut out =
            String::from("\nObject AUROC by defect kind (that kind against the normal scans):\n\n");
        out += &format!(
            "| category | {} |\n|---|{}\n",
            kinds
                .iter()
                .map(|k| escape_md(k))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(kinds.len())
        );
        let mut mean = self.mean();
        mean.category = "**mean**".into();
        for r in self.rows.iter().chain(std::iter::once(&mean)) {
            let cells: Vec<String> = kinds
                .iter()
                .map(|k| r.by_defect.get(*k).map_or("–".to_string(), |v| pct(*v)))
                .collect();
            out += &format!("| {} | {} |\n", escape_md(&r.category), cells.join(" | "));
        }
        out
    }

    /// An aligned plain-text table for the terminal, metrics with 4 decimals.
    pub fn to_terminal(&self) -> String {
        let header = [
            "category",
            "obj AUROC",
            "obj AP",
            "pt AUROC",
            "pt AP",
            "train s",
            "test s",
        ];
        let cells = |r: &CategoryResult| {
            vec![
                r.category.clone(),
                format!("{:.4}", r.object_auroc),
                format!("{:.4}", r.object_ap),
                format!("{:.4}", r.point_auroc),
                format!("{:.4}", r.point_ap),
                format!("{:.1}", r.train_seconds),
                format!("{:.1}", r.test_seconds),
            ]
        };
        let body: Vec<Vec<String>> = self.rows.iter().map(cells).collect();
        let mean = cells(&self.mean());
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in body.iter().chain(std::iter::once(&mean)) {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let fmt_row = |row: &[String]| {
            let parts: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, &w))| {
                    // Names left-aligned, numbers right-aligned.
                    if i == 0 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string() + "\n"
        };
        let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        let rule = "-".repeat(total) + "\n";
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        let mut out = format!("model: {}\n", self.label());
        out += &fmt_row(&header);
        out += &rule;
        for row in &body {
            out += &fmt_row(row);
        }
        out += &rule;
        out += &fmt_row(&mean);
        out
    }

    /// Write [`Self::to_csv`] to `path` atomically, after [`Self::validate`].
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        self.validate()?;
        write_output(path, self.to_csv().as_bytes())
    }

    /// Write [`Self::to_json`] to `path` atomically, after [`Self::validate`].
    pub fn write_json(&self, path: &Path) -> Result<()> {
        self.validate()?;
        write_output(path, self.to_json().as_bytes())
    }

    /// Write [`Self::to_markdown`] to `path` atomically, after [`Self::validate`].
    pub fn write_markdown(&self, path: &Path, paper: Option<&PaperTable>) -> Result<()> {
        self.validate()?;
        write_output(path, self.to_markdown(paper).as_bytes())
    }
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{:.1}", v * 100.0)
    }
}

fn secs(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.1}")
    }
}

fn paper_cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.1}"))
}

fn opt1(v: Option<f64>) -> String {
    v.map_or_else(|| "not published".into(), |x| format!("{x:.1}"))
}

/// Keep a category name from breaking the table: pipes would start a new cell.
fn escape_md(s: &str) -> String {
    s.replace('|', "\\|")
}
