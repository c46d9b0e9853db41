//! IAM action names are CamelCase verb-noun phrases (`DeleteBucketPolicy`). The
//! classification rules read them as words, so the splitting lives in one place.

/// Splits `GetObjectACL` into `["Get", "Object", "ACL"]` and `ESHttpGet` into `["ES", "Http", "Get"]`.
pub fn words(name: &str) -> Vec<&str> {
    let bytes = name.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..bytes.len() {
        let (prev, cur) = (bytes[i - 1], bytes[i]);
        let next_lower = bytes.get(i + 1).is_some_and(|b| b.is_ascii_lowercase());
        let boundary = (cur.is_ascii_uppercase() && (prev.is_ascii_lowercase() || prev.is_ascii_digit()))
            || (cur.is_ascii_uppercase() && prev.is_ascii_uppercase() && next_lower);
        if boundary {
            out.push(&name[start..i]);
            start = i;
        }
    }
    if start < name.len() {
        out.push(&name[start..]);
    }
    out
}

/// The verb an action starts with; `Batch` is a modifier, so `BatchGetItem` reads as `Get`.
pub fn verb<'a>(words: &[&'a str]) -> &'a str {
    match words {
        ["Batch", second, ..] => second,
        [first, ..] => first,
        [] => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_camel_case_and_acronyms() {
        assert_eq!(words("GetObjectACL"), ["Get", "Object", "ACL"]);
        assert_eq!(words("ESHttpGet"), ["ES", "Http", "Get"]);
        assert_eq!(words("PutBucketCORS"), ["Put", "Bucket", "CORS"]);
        assert_eq!(words("GetEC2Config"), ["Get", "EC2", "Config"]);
        assert_eq!(verb(&words("BatchGetItem")), "Get");
    }
}
