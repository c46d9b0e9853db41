//! Property paths in control settings: `A.B[0].C`, where `[0]` addresses a list
//! element by position and `[Key=value]` the element whose `Key` equals `value`
//! (for Key/Value attribute lists several controls share). Keys may contain `:`
//! (policy condition keys); selector values may contain dots.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// The list element whose field `key` equals `value` (created when absent).
    Select {
        key: String,
        value: String,
    },
}

pub fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut key = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => push_key(&mut out, &mut key),
            '[' => {
                push_key(&mut out, &mut key);
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                out.push(match inner.split_once('=') {
                    Some((k, v)) => Segment::Select { key: k.trim().into(), value: v.trim().into() },
                    None => Segment::Index(inner.trim().parse().unwrap_or(0)),
                });
            }
            _ => key.push(c),
        }
    }
    push_key(&mut out, &mut key);
    out
}

fn push_key(out: &mut Vec<Segment>, key: &mut String) {
    if !key.is_empty() {
        out.push(Segment::Key(std::mem::take(key)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_indexes_and_colons() {
        assert_eq!(
            segments("A.B[0].Bool.aws:SecureTransport"),
            vec![
                Segment::Key("A".into()),
                Segment::Key("B".into()),
                Segment::Index(0),
                Segment::Key("Bool".into()),
                Segment::Key("aws:SecureTransport".into())
            ]
        );
    }

    #[test]
    fn parses_selectors_whose_values_contain_dots() {
        assert_eq!(
            segments("Attrs[Key=access_logs.s3.enabled].Value"),
            vec![
                Segment::Key("Attrs".into()),
                Segment::Select { key: "Key".into(), value: "access_logs.s3.enabled".into() },
                Segment::Key("Value".into())
            ]
        );
    }
}
