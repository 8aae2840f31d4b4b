//! Editing a TOML file a person wrote without losing what they wrote (issue 10): the new
//! values are merged into the existing document with `toml_edit`, the crate cargo uses
//! for `Cargo.toml`, so comments, key order, blank lines and the layout they chose
//! (inline tables, dotted keys, quoting) stay, and only changed values are rewritten.

use toml_edit::{DocumentMut, Item, TableLike, Value};

/// `current` with every value of `fresh` (the complete new settings, as serde writes
/// them) in it: changed values replaced in place, new keys appended to their table, keys
/// that `fresh` lacks removed. `Err` is a sentence for a file that does not parse.
pub fn edit(current: &str, fresh: &str) -> Result<String, String> {
    let mut doc: DocumentMut = current.parse().map_err(|e| parse_reason(current, &e))?;
    let new: DocumentMut = fresh.parse().map_err(|e| parse_reason(fresh, &e))?;
    merge(doc.as_table_mut(), new.as_table());
    Ok(doc.to_string())
}

fn parse_reason(text: &str, e: &toml_edit::TomlError) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    match line {
        Some(line) => format!("line {line}: {}", e.message()),
        None => e.message().to_owned(),
    }
}

fn merge(old: &mut dyn TableLike, new: &dyn TableLike) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in gone {
        old.remove(&key);
    }
    let mut previous: Option<&str> = None;
    for (key, item) in new.iter() {
        let Some(slot) = old.get_mut(key) else {
            insert_after(old, previous, key, item.clone());
            previous = Some(key);
            continue;
        };
        previous = Some(key);
        match (slot.as_table_like_mut(), item.as_table_like()) {
            // A table the person wrote inline, dotted or as a section stays that way.
            (Some(old_table), Some(new_table)) => merge(old_table, new_table),
            _ => replace_value(slot, item),
        }
    }
}

/// Inserts `key` right after `previous` (where serde would have written it), or at the
/// end: toml_edit only appends, so the keys after `previous` are taken out and put back
/// with their own formatting.
fn insert_after(table: &mut dyn TableLike, previous: Option<&str>, key: &str, item: Item) {
    let later: Vec<String> = match previous {
        Some(p) => table
            .iter()
            .map(|(k, _)| k.to_owned())
            .skip_while(|k| k != p)
            .skip(1)
            .collect(),
        None => Vec::new(),
    };
    let moved: Vec<_> = later
        .iter()
        .filter_map(|k| Some((table.key(k)?.clone(), table.remove(k)?)))
        .collect();
    table.insert(key, item);
    for (k, v) in moved {
        table.entry_format(&k).or_insert(v);
    }
}

/// Replaces `slot` by `item` unless they are equal, keeping the comment around the old
/// value (its decor) when both are plain values.
fn replace_value(slot: &mut Item, item: &Item) {
    match (slot.as_value_mut(), item.as_value()) {
        (Some(old), Some(new)) if same(old, new) => {}
        (Some(old), Some(new)) => {
            let decor = old.decor().clone();
            *old = new.clone();
            *old.decor_mut() = decor;
        }
        _ => *slot = item.clone(),
    }
}

/// Equal as TOML values, whatever their spelling (quotes, spacing, comments inside arrays).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => x.value().to_bits() == y.value().to_bits(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Datetime(x), Value::Datetime(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: &str = r#"# Acme's connection to Centiloc, owned by the ops team.
tenant = "acme"   # from the welcome e-mail
organization = 'ACME Corp'
email = "ops@acme.example"

# Production broker; see the runbook.
broker = { host = "mqtt-client.centiloc.com", port = 8883 }

[expiry]
# Our change window is two weeks.
warn_days = 45
notice_days = [
  30, # first notice
  7,
]
"#;

    #[test]
    fn unchanged_settings_leave_the_text_alone() {
        let fresh = "tenant = \"acme\"\norganization = \"ACME Corp\"\nemail = \"ops@acme.example\"\n\n[broker]\nhost = \"mqtt-client.centiloc.com\"\nport = 8883\n\n[expiry]\nwarn_days = 45\nnotice_days = [30, 7]\n";
        assert_eq!(edit(WRITTEN, fresh).unwrap(), WRITTEN);
    }

    #[test]
    fn a_changed_and_a_new_value_keep_every_comment() {
        let fresh = "tenant = \"acme\"\norganization = \"ACME Corp\"\nemail = \"ops@acme.example\"\nusername = \"acme-mqtt\"\n\n[broker]\nhost = \"localhost\"\nport = 8883\n\n[expiry]\nwarn_days = 40\nnotice_days = [30, 7]\n";
        let edited = edit(WRITTEN, fresh).unwrap();
        let expected = WRITTEN
            .replace(
                "email = \"ops@acme.example\"\n",
                "email = \"ops@acme.example\"\nusername = \"acme-mqtt\"\n",
            )
            .replace(
                "host = \"mqtt-client.centiloc.com\"",
                "host = \"localhost\"",
            )
            .replace("warn_days = 45", "warn_days = 40");
        assert_eq!(edited, expected);
    }

    #[test]
    fn a_removed_key_goes_and_nothing_else() {
        let fresh = "tenant = \"acme\"\norganization = \"ACME Corp\"\nemail = \"ops@acme.example\"\n\n[broker]\nhost = \"mqtt-client.centiloc.com\"\nport = 8883\n\n[expiry]\nnotice_days = [30, 7]\n";
        // The comment above a key belongs to it (toml_edit keeps it in the key's decor).
        let expected = WRITTEN.replace("# Our change window is two weeks.\nwarn_days = 45\n", "");
        assert_eq!(edit(WRITTEN, fresh).unwrap(), expected);
    }
}
