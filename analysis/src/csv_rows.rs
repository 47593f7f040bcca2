//! CSV files whose columns are declared once, as a row struct with `#[derive(Serialize)]`:
//! the header is its field names, each record its field values, written by the `csv` crate.
//! Floats a file prints to a fixed precision are `String` fields (serde's `f64` is not `{:.1}`).

use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::OutputError;

/// The header of `R`: its field names in order (a default row serialised, its values dropped).
pub fn header<R: Serialize + Default>() -> csv::StringRecord {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(R::default()).expect("a row of scalar fields serialises");
    let bytes = w.into_inner().expect("an in-memory writer flushes");
    csv::Reader::from_reader(&bytes[..]).headers().expect("the header just written").clone()
}

/// A writer to `out` that has written `R`'s header (also for a file that gets no rows); rows
/// go through its `serialize`.
pub fn writer<R: Serialize + Default, W: Write>(out: W) -> Result<csv::Writer<W>, OutputError> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    w.write_record(&header::<R>()).map_err(OutputError::csv)?;
    Ok(w)
}

/// Writes `R`'s header and `rows` to `out`, the file called `name`.
pub fn write<R: Serialize + Default, W: Write>(
    out: W,
    name: &str,
    rows: impl IntoIterator<Item = R>,
) -> Result<(), OutputError> {
    let mut w = writer::<R, W>(out)?;
    for row in rows {
        w.serialize(row).map_err(OutputError::csv)?;
    }
    w.flush().map_err(|e| OutputError::Io(name.into(), e))
}

/// The fields one row writes, as the text of each.
pub fn fields<R: Serialize>(row: &R) -> Vec<String> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.serialize(row).expect("a row of scalar fields serialises");
    let bytes = w.into_inner().expect("an in-memory writer flushes");
    let mut record = csv::StringRecord::new();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..]);
    reader.read_record(&mut record).expect("the record just written");
    record.iter().map(str::to_string).collect()
}

/// A row read back from the text of its fields, in header order.
pub fn from_fields<R: DeserializeOwned>(fields: &[String]) -> Result<R, String> {
    csv::StringRecord::from(fields).deserialize(None).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        name: String,
        count: Option<u64>,
        #[serde(rename = "ok?")]
        ok: bool,
    }

    #[test]
    fn header_is_the_field_names_and_is_written_without_rows() {
        let mut buf = Vec::new();
        write(&mut buf, "t.csv", Vec::<Row>::new()).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "name,count,ok?\n");
    }

    #[test]
    fn fields_quote_only_in_the_file_and_read_back_to_the_same_row() {
        let row = Row { name: "a \"b\", c\nd".into(), count: None, ok: true };
        let mut buf = Vec::new();
        write(&mut buf, "t.csv", [row.clone()]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "name,count,ok?\n\"a \"\"b\"\", c\nd\",,true\n");
        let text = fields(&row);
        assert_eq!(text, ["a \"b\", c\nd", "", "true"]);
        assert_eq!(from_fields::<Row>(&text).unwrap(), row);
    }
}
