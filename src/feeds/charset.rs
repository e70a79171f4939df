//! Feed bytes → UTF-8 bytes the reader can trust. Decoding by the XML prolog alone goes
//! wrong in the cases real feeds produce: a charset named only in the HTTP header, a prolog
//! that names the wrong encoding (the server re-encoded the body but kept the prolog), UTF-16
//! without a prolog, or nothing declared at all. Order: BOM → valid UTF-8 → the prolog's
//! encoding → the HTTP charset → chardetng's guess. The result is UTF-8 with the prolog's
//! encoding declaration removed, so nothing downstream can re-decode it wrongly. Pure.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::extract::charset::charset_from_content_type;

/// Returns the feed as UTF-8 bytes ready for the reader.
pub fn to_utf8<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    let encoding = detect(bytes, content_type);
    if encoding == UTF_8
        && std::str::from_utf8(bytes).is_ok()
        && !bytes.starts_with(b"\xEF\xBB\xBF")
    {
        // Already UTF-8; a prolog naming another encoding would make a reader misread it.
        return match declared_encoding(bytes) {
            Some(declared) if declared != UTF_8 => {
                Cow::Owned(strip_declaration(bytes).into_bytes())
            }
            _ => Cow::Borrowed(bytes),
        };
    }
    let (text, _, _) = encoding.decode(bytes);
    Cow::Owned(strip_declaration(text.as_bytes()).into_bytes())
}

/// The encoding the bytes are in, by the order in the module comment.
pub fn detect(bytes: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    // UTF-16 without a BOM still starts with "<" as a 16-bit unit.
    if bytes.starts_with(b"<\0") {
        return UTF_16LE;
    }
    if bytes.starts_with(b"\0<") {
        return UTF_16BE;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    if let Some(declared) = declared_encoding(bytes).filter(|e| *e != UTF_8) {
        return declared;
    }
    if let Some(header) = content_type
        .and_then(charset_from_content_type)
        .filter(|e| *e != UTF_8)
    {
        return header;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

/// The `encoding` of an `<?xml …?>` prolog at the start of the document.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(256)];
    let start = find(head, b"<?xml")?;
    let end = find(&head[start..], b"?>")? + start;
    let prolog = &head[start..end];
    let at = find(prolog, b"encoding")? + "encoding".len();
    let rest = &prolog[at..];
    let quote_at = rest.iter().position(|b| *b == b'"' || *b == b'\'')?;
    let quote = rest[quote_at];
    let value = &rest[quote_at + 1..];
    let close = value.iter().position(|b| *b == quote)?;
    Encoding::for_label(&value[..close])
}

/// Removes the encoding pseudo-attribute from the prolog of UTF-8 text.
fn strip_declaration(utf8: &[u8]) -> String {
    let text = String::from_utf8_lossy(utf8);
    let text = text.trim_start_matches('\u{feff}');
    let Some(start) = text.find("<?xml").filter(|s| *s < 256) else {
        return text.to_string();
    };
    let Some(end) = text[start..].find("?>").map(|e| e + start) else {
        return text.to_string();
    };
    let prolog = &text[start..end];
    let cleaned = match prolog.find("encoding") {
        Some(at) => {
            let after = &prolog[at..];
            let quote_at = after.find(['"', '\'']);
            let close = quote_at.and_then(|q| {
                let quote = after.as_bytes()[q] as char;
                after[q + 1..].find(quote).map(|c| q + 1 + c + 1)
            });
            match close {
                Some(close) => format!("{}{}", &prolog[..at], &after[close..]),
                None => prolog.to_string(),
            }
        }
        None => prolog.to_string(),
    };
    format!("{}{}{}", &text[..start], cleaned.trim_end(), &text[end..])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = "<rss version=\"2.0\"><channel><title>Новости</title><item><guid>1</guid><title>Мобилизация: протесты</title></item></channel></rss>";

    fn titles(bytes: &[u8], content_type: Option<&str>) -> (String, String) {
        let utf8 = to_utf8(bytes, content_type);
        let feed = super::super::parse(&utf8, None).expect("parses");
        (feed.title.unwrap_or_default(), feed.items[0].title.clone())
    }

    fn expected() -> (String, String) {
        ("Новости".into(), "Мобилизация: протесты".into())
    }

    #[test]
    fn windows_1251_named_only_in_the_http_header() {
        let xml = format!("<?xml version=\"1.0\"?>{FEED}");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
        assert_eq!(
            titles(&bytes, Some("application/rss+xml; charset=windows-1251")),
            expected()
        );
    }

    #[test]
    fn koi8_r_declared_in_the_prolog() {
        let xml = format!("<?xml version=\"1.0\" encoding=\"KOI8-R\"?>{FEED}");
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(&xml);
        assert_eq!(titles(&bytes, None), expected());
    }

    #[test]
    fn a_prolog_that_lies_about_utf8_content() {
        let xml = format!("<?xml version=\"1.0\" encoding=\"windows-1251\"?>{FEED}");
        assert_eq!(titles(xml.as_bytes(), None), expected());
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{FEED}");
        let mut le: Vec<u8> = vec![0xFF, 0xFE];
        le.extend(xml.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(titles(&le, None), expected());
        let be: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(titles(&be, None), expected());
    }

    #[test]
    fn iso_8859_1_latin_feed() {
        let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Café Zürich</title><item><guid>1</guid><title>Grève générale</title></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(xml);
        let (title, item) = titles(&bytes, None);
        assert_eq!(
            (title.as_str(), item.as_str()),
            ("Café Zürich", "Grève générale")
        );
    }

    #[test]
    fn undeclared_legacy_bytes_are_guessed() {
        let xml = format!("<?xml version=\"1.0\"?>{FEED}");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
        assert_eq!(titles(&bytes, None), expected());
    }
}
