//! Property paths in control settings: `A.B[0].C`, where `[0]` addresses a list
//! element and a key may contain `:` (policy condition keys).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

pub fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Segment::Key(rest[..open].to_string()));
            }
            let close = rest[open..].find(']').map_or(rest.len(), |c| open + c);
            out.push(Segment::Index(rest[open + 1..close].parse().unwrap_or(0)));
            rest = rest.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push(Segment::Key(rest.to_string()));
        }
    }
    out
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
}
