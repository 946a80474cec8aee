//! Where each field of a contact or account came from: the import, file and
//! row. In the API it is a map from field to source, `{"title": {"import":
//! …, "file": …, "row": 5}}`. Stored, the fields that share a source are
//! grouped, `[{"import": …, "file": …, "row": 2, "fields": ["email",
//! "title"]}]`: a freshly imported contact has one source for all its
//! fields, and writing it once per field made provenance the largest part
//! of a contact and of an import's running time.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Fields that came from one row of one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceGroup {
    pub import: String,
    pub file: String,
    pub row: u64,
    pub fields: Vec<Cow<'static, str>>,
}

/// The stored form, one group per distinct source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Provenance(Vec<SourceGroup>);

impl Provenance {
    /// All of `fields` from one row.
    pub fn from_row(import: &str, file: &str, row: u64, fields: &[&'static str]) -> Provenance {
        if fields.is_empty() {
            return Provenance::default();
        }
        Provenance(vec![SourceGroup {
            import: import.to_string(),
            file: file.to_string(),
            row,
            fields: fields.iter().map(|f| Cow::Borrowed(*f)).collect(),
        }])
    }

    /// Records that `field` now comes from `row` of `import`.
    pub fn set(&mut self, field: &'static str, import: &str, file: &str, row: u64) {
        for group in &mut self.0 {
            group.fields.retain(|f| f != field);
        }
        self.0.retain(|g| !g.fields.is_empty());
        match self
            .0
            .iter_mut()
            .find(|g| g.row == row && g.import == import && g.file == file)
        {
            Some(group) => group.fields.push(Cow::Borrowed(field)),
            None => self.0.push(SourceGroup {
                import: import.to_string(),
                file: file.to_string(),
                row,
                fields: vec![Cow::Borrowed(field)],
            }),
        }
    }

    /// The source of `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&SourceGroup> {
        self.0.iter().find(|g| g.fields.iter().any(|f| f == field))
    }

    /// The API form: field → `{"import", "file", "row"}`.
    pub fn by_field(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for group in &self.0 {
            let source = json!({"import": group.import, "file": group.file, "row": group.row});
            for field in &group.fields {
                out.insert(field.to_string(), source.clone());
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_string())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or_else(|_| Value::Array(Vec::new()))
    }

    /// Reads the stored form; `None` when it is not what [`Provenance::to_json`]
    /// writes.
    pub fn parse(stored: &str) -> Option<Provenance> {
        serde_json::from_str(stored).ok()
    }

    pub fn from_value(stored: Value) -> Option<Provenance> {
        serde_json::from_value(stored).ok()
    }
}

/// Serializes as the API form, field → source.
pub fn serialize_by_field<S: serde::Serializer>(
    provenance: &Provenance,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    provenance.by_field().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sharing_a_source_are_stored_once_and_read_back_per_field() {
        let mut p = Provenance::from_row("i1", "a.csv", 2, &["email", "first_name", "title"]);
        p.set("title", "i2", "b.csv", 7);
        assert_eq!(
            p.to_value(),
            json!([
                {"import": "i1", "file": "a.csv", "row": 2, "fields": ["email", "first_name"]},
                {"import": "i2", "file": "b.csv", "row": 7, "fields": ["title"]},
            ])
        );
        assert_eq!(Provenance::parse(&p.to_json()), Some(p.clone()));
        let by_field = p.by_field();
        assert_eq!(by_field["first_name"]["row"], 2);
        assert_eq!(by_field["title"]["file"], "b.csv");
        assert_eq!(p.of("title").map(|g| g.row), Some(7));
    }

    #[test]
    fn a_group_left_without_fields_is_dropped() {
        let mut p = Provenance::from_row("i1", "a.csv", 2, &["title"]);
        p.set("title", "i1", "a.csv", 9);
        assert_eq!(
            p.to_value(),
            json!([{"import": "i1", "file": "a.csv", "row": 9, "fields": ["title"]}])
        );
    }

    #[test]
    fn nothing_stored_is_empty_and_garbage_is_refused() {
        assert_eq!(Provenance::parse("[]"), Some(Provenance::default()));
        assert!(Provenance::default().by_field().is_empty());
        assert_eq!(Provenance::parse(r#"{"title": {}}"#), None);
        assert_eq!(Provenance::parse(r#"[{"row": 1}]"#), None);
    }
}
