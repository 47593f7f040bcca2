//! A variant's options (`kernel=4.13 names=generic`) as CSV columns of their own, one per key,
//! so a plotting script filters on `kernel == "4.13"` instead of parsing the `variant` text.

use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::{OutputError, csv_rows};

/// The option keys of one output file, in first-seen order, and the column each is written to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionColumns {
    /// (key as the variant spells it, column name).
    keys: Vec<(String, String)>,
}

/// The `key=value` words of a variant; a word without `=` is a key with an empty value.
fn words(variant: &str) -> impl Iterator<Item = (&str, &str)> {
    variant.split_whitespace().map(|w| w.split_once('=').unwrap_or((w, "")))
}

impl OptionColumns {
    /// The keys of every variant in `variants`. A key whose name is already a column of the
    /// file (`fixed`) is written as `option.KEY`, so no column name is used twice.
    pub fn of<'a>(variants: impl IntoIterator<Item = &'a str>, fixed: &csv::StringRecord) -> OptionColumns {
        let mut keys: Vec<(String, String)> = Vec::new();
        for variant in variants {
            for (key, _) in words(variant) {
                if keys.iter().any(|(k, _)| k == key) {
                    continue;
                }
                let column = if fixed.iter().any(|c| c == key) { format!("option.{key}") } else { key.to_string() };
                keys.push((key.to_string(), column));
            }
        }
        OptionColumns { keys }
    }

    /// The column names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(_, c)| c.as_str())
    }

    /// One value per column for `variant`: its value for that key, or empty when it sets none.
    pub fn values(&self, variant: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|(key, _)| words(variant).find(|(k, _)| k == key).map_or(String::new(), |(_, v)| v.to_string()))
            .collect()
    }

    /// `fixed` (a row struct's header) with the option columns inserted after its `variant` column.
    pub fn header(&self, fixed: &csv::StringRecord) -> csv::StringRecord {
        let at = variant_index(fixed);
        let mut out: Vec<&str> = fixed.iter().take(at).collect();
        out.extend(self.names());
        out.extend(fixed.iter().skip(at));
        csv::StringRecord::from(out)
    }
}

/// Where option columns go: right after `variant` (at the end when a row has none).
fn variant_index(fixed: &csv::StringRecord) -> usize {
    fixed.iter().position(|c| c == "variant").map_or(fixed.len(), |i| i + 1)
}

/// A CSV file of `R` rows with option columns after `variant`: the header at creation, then
/// rows through [`row`](Self::row). Each row is serialised once by the `csv` crate into a
/// reused buffer and the option fields spliced in after its `variant` field (histograms.csv
/// has millions of rows, so no per-row writer or re-parse).
pub struct OptionCsv<W: Write> {
    out: BufWriter<W>,
    scratch: csv::Writer<Line>,
    line: Arc<Mutex<Vec<u8>>>,
    options: OptionColumns,
    /// Fields before the option columns (up to and including `variant`).
    at: usize,
    values: Vec<u8>,
}

/// The buffer one row is serialised into, shared with the writer that fills it.
struct Line(Arc<Mutex<Vec<u8>>>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `field` as CSV writes it: quoted, with quotes doubled, when it holds a comma, quote or newline.
fn push_field(out: &mut Vec<u8>, field: &str) {
    if field.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in field.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// The byte offset in a CSV record `line` just after its first `n` fields (before the comma
/// that follows them); the line's end when it has `n` fields or fewer.
fn after_fields(line: &[u8], n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let (mut quoted, mut seen) = (false, 0);
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                seen += 1;
                if seen == n {
                    return i;
                }
            }
            b'\n' | b'\r' if !quoted => return i,
            _ => {}
        }
    }
    line.len()
}

impl<W: Write> OptionCsv<W> {
    /// Writes `R`'s header with `options`' columns inserted.
    pub fn create<R: Serialize + Default>(out: W, options: OptionColumns) -> Result<OptionCsv<W>, OutputError> {
        let mut out = BufWriter::new(out);
        let fixed = csv_rows::header::<R>();
        let mut header = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        header.write_record(&options.header(&fixed)).map_err(OutputError::csv)?;
        let header = header.into_inner().map_err(|e| OutputError::Csv(e.to_string()))?;
        out.write_all(&header).map_err(|e| OutputError::Csv(e.to_string()))?;
        let line = Arc::new(Mutex::new(Vec::new()));
        let scratch = csv::WriterBuilder::new().has_headers(false).from_writer(Line(line.clone()));
        Ok(OptionCsv { out, scratch, line, at: variant_index(&fixed), options, values: Vec::new() })
    }

    /// Writes `row`, whose `variant` field is `variant`, with that variant's option values.
    pub fn row<R: Serialize>(&mut self, row: &R, variant: &str) -> Result<(), OutputError> {
        self.scratch.serialize(row).map_err(OutputError::csv)?;
        self.scratch.flush().map_err(|e| OutputError::Csv(e.to_string()))?;
        self.values.clear();
        for value in self.options.values(variant) {
            self.values.push(b',');
            push_field(&mut self.values, &value);
        }
        let mut line = self.line.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let split = after_fields(&line, self.at);
        let io = |e: std::io::Error| OutputError::Csv(e.to_string());
        self.out.write_all(&line[..split]).map_err(io)?;
        self.out.write_all(&self.values).map_err(io)?;
        self.out.write_all(&line[split..]).map_err(io)?;
        line.clear();
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes `R`'s header with `options` and every `(row, variant)` of `rows` to `out`, the file `name`.
pub fn write<'v, R: Serialize + Default, W: Write>(
    out: W,
    name: &str,
    options: OptionColumns,
    rows: impl IntoIterator<Item = (R, &'v str)>,
) -> Result<(), OutputError> {
    let mut csv = OptionCsv::create::<R>(out, options)?;
    for (row, variant) in rows {
        csv.row(&row, variant)?;
    }
    csv.flush().map_err(|e| OutputError::Io(name.into(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Default, Serialize)]
    struct Row<'a> {
        scheme: &'a str,
        variant: &'a str,
        cpus: u32,
    }

    #[test]
    fn each_key_gets_one_column_after_variant_and_absent_keys_are_empty() {
        let variants = ["kernel=4.13 names=generic", "kernel=4.15", "cpus=8 hz=300"];
        let fixed = csv_rows::header::<Row>();
        let options = OptionColumns::of(variants, &fixed);
        assert_eq!(options.names().collect::<Vec<_>>(), ["kernel", "names", "option.cpus", "hz"]);
        let mut buf = Vec::new();
        write(
            &mut buf,
            "t.csv",
            options,
            variants.iter().map(|&v| (Row { scheme: "legacy", variant: v, cpus: 64 }, v)),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "scheme,variant,kernel,names,option.cpus,hz,cpus\n\
             legacy,kernel=4.13 names=generic,4.13,generic,,,64\n\
             legacy,kernel=4.15,4.15,,,,64\n\
             legacy,cpus=8 hz=300,,,8,300,64\n"
        );
    }

    #[test]
    fn fields_with_commas_and_quotes_are_split_and_written_as_csv_writes_them() {
        let variants = ["a=\"x,y\"", "a=1"];
        let rows = [
            Row { scheme: "p,\"q\"", variant: variants[0], cpus: 1 },
            Row { scheme: "s", variant: variants[1], cpus: 2 },
        ];
        let fixed = csv_rows::header::<Row>();
        let mut buf = Vec::new();
        write(&mut buf, "t.csv", OptionColumns::of(variants, &fixed), rows.iter().map(|r| (*r, r.variant))).unwrap();
        let mut reader = csv::Reader::from_reader(&buf[..]);
        assert_eq!(reader.headers().unwrap(), vec!["scheme", "variant", "a", "cpus"]);
        let records: Vec<Vec<String>> =
            reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        assert_eq!(records, [["p,\"q\"", "a=\"x,y\"", "\"x,y\"", "1"], ["s", "a=1", "1", "2"]]);
    }

    #[test]
    fn no_options_leaves_the_row_structs_columns() {
        let fixed = csv_rows::header::<Row>();
        let options = OptionColumns::of([""], &fixed);
        assert_eq!(options.header(&fixed), fixed);
    }
}
