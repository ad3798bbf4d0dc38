//! CSV files through the `csv` crate and serde: RFC 4180 quoting (a field is quoted only when it
//! holds a comma, a quote or a line break), `\n` line ends, a header row.
//!
//! A leaf: it imports nothing of the crate, so any layer may use it. Callers read and write the
//! file themselves (size-limited, atomically where it matters) and name it in their errors;
//! [`parse`] says the line of every problem.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A problem in CSV text: the line (1-based) and what is wrong there.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: u64,
    pub message: String,
}

/// The CSV text of `header` and `rows` (each row a struct, tuple or sequence of plain fields;
/// nested ones are written flat, in order).
pub fn text<R: Serialize>(
    header: impl IntoIterator<Item = impl AsRef<[u8]>>,
    rows: impl IntoIterator<Item = R>,
) -> String {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    // Writing plain fields into memory cannot fail; a row type that serde cannot write as CSV
    // (a map) is a programming error, caught by the tests of each writer.
    writer.write_record(header).expect("CSV header into memory");
    for row in rows {
        writer.serialize(row).expect("CSV row of plain fields");
    }
    let bytes = writer.into_inner().expect("CSV into memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// Reads CSV text whose header is exactly `header` (fields trimmed), one `T` per row. `check`
/// validates a row beyond its types (a range, say). Every error says its line; a field that does
/// not parse is named by its column and value.
pub fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    header: &[&str],
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let bad = |line: u64, message: String| CsvError { line, message };
    let found = reader.headers().map_err(|e| bad(1, reason(&e)))?.clone();
    if found.is_empty() {
        return Err(bad(1, "empty file: no header".into()));
    }
    if !found.iter().eq(header.iter().copied()) {
        let found: String = found.iter().collect::<Vec<_>>().join(",");
        return Err(bad(
            1,
            format!(
                "header {:?} is not {:?}",
                found.chars().take(80).collect::<String>(),
                header.join(",")
            ),
        ));
    }
    // The line where a record starting at `byte` begins, past any blank lines there (the
    // reader's own line count leaves blank lines out).
    let line_at = |byte: u64| {
        let mut at = (byte as usize).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
            at += 1;
        }
        bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
    };
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let start = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(start, |p| p.byte());
                return Err(bad(line_at(at), reason(&e)));
            }
        }
        // Counted only for a row in error: a file of many rows is read in one pass.
        let line = || line_at(record.position().map_or(start, |p| p.byte()));
        if record.len() != header.len() {
            return Err(bad(
                line(),
                format!("{} fields, expected {}", record.len(), header.len()),
            ));
        }
        let row: T = record.deserialize(None).map_err(|e| {
            let message = match &e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                    Some(i) => format!(
                        "{} {:?}: {}",
                        header.get(i as usize).unwrap_or(&"field"),
                        record.get(i as usize).unwrap_or(""),
                        err.kind()
                    ),
                    None => err.kind().to_string(),
                },
                _ => reason(&e),
            };
            bad(line(), message)
        })?;
        check(&row).map_err(|m| bad(line(), m))?;
        out.push(row);
    }
    Ok(out)
}

/// What a CSV error says, without the position (the caller says the line).
fn reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text (field {})", err.field() + 1),
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Row {
        name: String,
        count: u8,
    }

    #[test]
    fn quotes_only_what_needs_it_and_reads_it_back() {
        let rows = [
            Row {
                name: "plain".into(),
                count: 1,
            },
            Row {
                name: "a, \"b\"".into(),
                count: 2,
            },
        ];
        let csv = text(["name", "count"], &rows);
        assert_eq!(csv, "name,count\nplain,1\n\"a, \"\"b\"\"\",2\n");
        let back: Vec<Row> = parse(csv.as_bytes(), &["name", "count"], |_| Ok(())).unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn errors_say_the_line_the_column_and_the_value() {
        let header = ["name", "count"];
        let ok = |_: &Row| Ok(());
        let err = |s: &[u8]| parse::<Row>(s, &header, ok).unwrap_err();
        assert_eq!(err(b"").to_string(), "line 1: empty file: no header");
        assert!(
            err(b"name,size\n")
                .to_string()
                .starts_with("line 1: header")
        );
        assert_eq!(
            err(b"name,count\na,1\nb,300\n").to_string(),
            "line 3: count \"300\": number too large to fit in target type"
        );
        assert_eq!(
            err(b"name,count\na,1,2\n").to_string(),
            "line 2: 3 fields, expected 2"
        );
        let small = |r: &Row| {
            (r.count < 5)
                .then_some(())
                .ok_or("count over 4".to_string())
        };
        assert_eq!(
            parse::<Row>(b"name,count\na,1\n\nb,9\n", &header, small)
                .unwrap_err()
                .to_string(),
            "line 4: count over 4"
        );
        assert!(
            err(b"name,count\n\"a\xff\",1\n")
                .to_string()
                .starts_with("line 2: not UTF-8")
        );
    }
}
