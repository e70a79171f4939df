//! Turns raw response bytes into a Rust `String`, picking the character
//! encoding the way a browser would: byte-order mark, then the HTTP
//! `Content-Type` charset, then a `<meta>` prescan of the first 1024 bytes,
//! then a statistical guess (chardetng). Decoding never fails: malformed
//! sequences become U+FFFD.
//!
//! This module must stay pure: no I/O, no clock, no globals. It only looks at
//! the bytes and strings it is handed.

use encoding_rs::{Encoding, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};

/// The HTML standard limits the `<meta>` prescan to the first 1024 bytes;
/// looking further would disagree with browsers on the same page.
const PRESCAN_LIMIT: usize = 1024;

/// chardetng converges long before this; feeding it a whole 8 MiB page would
/// only cost time.
const DETECT_LIMIT: usize = 1 << 20;

/// Decodes `bytes` using the browser order of precedence described in the
/// module docs, and returns the text with the encoding actually used.
pub fn decode_html(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    decode_html_with_hint(bytes, content_type, None)
}

/// Same as [`decode_html`], but lets the caller pass the page URL so that
/// chardetng can use its top-level domain as a prior (a `.ru` page with no
/// declared charset is far more likely windows-1251 than windows-1252).
pub fn decode_html_with_hint(
    bytes: &[u8],
    content_type: Option<&str>,
    url: Option<&str>,
) -> (String, &'static Encoding) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        return (decode_without_bom(encoding, body), encoding);
    }
    let encoding = content_type
        .and_then(charset_from_content_type)
        .or_else(|| prescan_meta(bytes))
        .unwrap_or_else(|| guess(bytes, url));
    (decode_without_bom(encoding, bytes), encoding)
}

fn decode_without_bom(encoding: &'static Encoding, bytes: &[u8]) -> String {
    // The BOM has already been handled (or deliberately ignored because a
    // header won); `decode` would sniff it again and could disagree.
    let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// Maps a label to an encoding, dropping the WHATWG "replacement" encoding:
/// it decodes the whole document to a single U+FFFD, which is correct for a
/// browser defending against ISO-2022-KR attacks but useless for extracting
/// text, so a later, weaker signal is a better bet.
fn usable_label(label: &[u8]) -> Option<&'static Encoding> {
    Encoding::for_label(label).filter(|e| *e != REPLACEMENT)
}

/// Extracts the `charset` parameter of an HTTP `Content-Type` value.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        usable_label(value.as_bytes())
    })
}

/// A compact version of the HTML standard's "prescan a byte stream to
/// determine its encoding", limited to the first 1024 bytes.
pub fn prescan_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN_LIMIT)];
    let mut i = 0;
    while i < head.len() {
        let rest = &head[i..];
        if rest.starts_with(b"<!--") {
            // Comments may contain example markup that must not count.
            i = find(head, i + 4, b"-->").map_or(head.len(), |end| end + 3);
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|b| is_space(*b) || *b == b'/')
        {
            let (encoding, next) = meta_charset(head, i + 5);
            if encoding.is_some() {
                return encoding;
            }
            i = next;
        } else if rest.len() > 1
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Walk the attributes instead of jumping to the next '>' so that a
            // quoted '>' inside an attribute value does not end the tag early.
            let mut j = i + 1;
            while j < head.len() && !is_space(head[j]) && head[j] != b'>' {
                j += 1;
            }
            while let Some((_, _, next)) = next_attribute(head, j) {
                j = next;
            }
            i = j + 1;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            i = find(head, i + 2, b">").map_or(head.len(), |end| end + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// Reads the attributes of one `<meta>` tag starting at `pos` and returns the
/// encoding it declares (if any) plus the position after the tag.
fn meta_charset(head: &[u8], mut pos: usize) -> (Option<&'static Encoding>, usize) {
    let mut charset = None;
    let mut content_charset = None;
    let mut http_equiv_content_type = false;
    while let Some((name, value, next)) = next_attribute(head, pos) {
        pos = next;
        match name.as_slice() {
            b"charset" if charset.is_none() => charset = Some(value),
            b"http-equiv" => {
                http_equiv_content_type |= value.eq_ignore_ascii_case(b"content-type");
            }
            b"content" if content_charset.is_none() => {
                content_charset = charset_in_content(&value);
            }
            _ => {}
        }
    }
    let label = charset.or(if http_equiv_content_type {
        content_charset
    } else {
        None
    });
    let encoding = label.and_then(|l| usable_label(&l)).map(|e| {
        // A document that could be read as ASCII-compatible bytes cannot
        // really be UTF-16, and x-user-defined is a legacy alias: the
        // standard maps both as below.
        if e == UTF_16BE || e == UTF_16LE {
            UTF_8
        } else if e == X_USER_DEFINED {
            WINDOWS_1252
        } else {
            e
        }
    });
    (encoding, pos + 1)
}

/// Finds `charset=...` inside a `content="text/html; charset=..."` value.
fn charset_in_content(value: &[u8]) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = find(&lower, from, b"charset") {
        let mut i = at + 7;
        while i < lower.len() && is_space(lower[i]) {
            i += 1;
        }
        if lower.get(i) != Some(&b'=') {
            from = at + 7;
            continue;
        }
        i += 1;
        while i < lower.len() && is_space(lower[i]) {
            i += 1;
        }
        let quote = lower.get(i).copied().filter(|b| *b == b'"' || *b == b'\'');
        let start = if quote.is_some() { i + 1 } else { i };
        let end = (start..lower.len())
            .find(|&k| match quote {
                Some(q) => lower[k] == q,
                None => is_space(lower[k]) || lower[k] == b';',
            })
            .unwrap_or(lower.len());
        let label = lower.get(start..end)?;
        return (!label.is_empty()).then(|| label.to_vec());
    }
    None
}

/// The standard's "get an attribute" step: returns the lowercased name, the
/// raw value and the position after it, or `None` at the end of the tag.
fn next_attribute(head: &[u8], mut pos: usize) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    while pos < head.len() && (is_space(head[pos]) || head[pos] == b'/') {
        pos += 1;
    }
    if pos >= head.len() || head[pos] == b'>' {
        return None;
    }
    let mut name = Vec::new();
    while pos < head.len() {
        let b = head[pos];
        if b == b'=' && !name.is_empty() {
            break;
        }
        if is_space(b) || b == b'/' || b == b'>' {
            return Some((name, Vec::new(), pos));
        }
        name.push(b.to_ascii_lowercase());
        pos += 1;
    }
    pos += 1; // skip '='
    while pos < head.len() && is_space(head[pos]) {
        pos += 1;
    }
    let mut value = Vec::new();
    match head.get(pos).copied() {
        Some(q @ (b'"' | b'\'')) => {
            pos += 1;
            while pos < head.len() && head[pos] != q {
                value.push(head[pos]);
                pos += 1;
            }
            pos += 1;
        }
        _ => {
            while pos < head.len() && !is_space(head[pos]) && head[pos] != b'>' {
                value.push(head[pos]);
                pos += 1;
            }
        }
    }
    Some((name, value, pos))
}

fn guess(bytes: &[u8], url: Option<&str>) -> &'static Encoding {
    // Valid UTF-8 is what chardetng (with UTF-8 allowed) would answer for
    // any page with non-ASCII text, and for pure ASCII every candidate
    // decodes the same; the validity check is SIMD-fast while chardetng's
    // statistics over a large page cost more than parsing it.
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    let sample = &bytes[..bytes.len().min(DETECT_LIMIT)];
    // Pages run no scripts here, but ISO-2022-JP is rare enough in news to not be worth the risk.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, sample.len() == bytes.len());
    let tld = url.and_then(tld_of);
    detector.guess(
        tld.as_deref().map(str::as_bytes),
        chardetng::Utf8Detection::Allow,
    )
}

/// The last label of the URL's host, in the lowercase ASCII form chardetng
/// expects (IDN TLDs arrive punycoded from the `url` crate).
fn tld_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let tld = host.trim_end_matches('.').rsplit('.').next()?;
    let valid = !tld.is_empty()
        && tld.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !tld.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| tld.to_ascii_lowercase())
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{ISO_8859_2, KOI8_R, KOI8_U, WINDOWS_1251};

    const RU: &str = "Матери солдат вышли на акцию протеста в Москве. Полиция задержала несколько человек, сообщают очевидцы.";

    fn page(meta: &str, body: &str) -> String {
        format!(
            "<!DOCTYPE html><html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"
        )
    }

    fn encode(enc: &'static Encoding, s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = enc.encode(s);
        assert!(!unmappable, "test string must be representable");
        bytes.into_owned()
    }

    #[test]
    fn windows_1251_from_meta_charset() {
        let bytes = encode(WINDOWS_1251, &page(r#"<meta charset="windows-1251">"#, RU));
        let (text, enc) = decode_html(&bytes, None);
        assert_eq!(enc, WINDOWS_1251);
        assert!(text.contains(RU));
    }

    #[test]
    fn koi8_r_from_http_equiv() {
        let bytes = encode(
            KOI8_R,
            &page(
                r#"<meta http-equiv="Content-Type" content="text/html; charset=KOI8-R">"#,
                RU,
            ),
        );
        let (text, enc) = decode_html(&bytes, None);
        assert_eq!(enc, KOI8_R);
        assert!(text.contains(RU));
    }

    #[test]
    fn iso_8859_1_from_http_header() {
        let fr = "Les élèves ont manifesté près de l'Hôtel de Ville à Montréal, déçus.";
        // ISO-8859-1 is an alias of windows-1252 in the Encoding Standard.
        let bytes = encode(WINDOWS_1252, &page("", fr));
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=ISO-8859-1"));
        assert_eq!(enc, WINDOWS_1252);
        assert!(text.contains(fr));
    }

    #[test]
    fn undeclared_cyrillic_is_guessed() {
        let long = RU.repeat(5);
        for enc in [WINDOWS_1251, KOI8_R] {
            let bytes = encode(enc, &page("", &long));
            let (text, got) =
                decode_html_with_hint(&bytes, None, Some("https://news.example.ru/a"));
            // chardetng reports KOI8-U for KOI8 text: a superset of KOI8-R
            // that decodes Russian identically.
            let expected = if enc == KOI8_R { KOI8_U } else { enc };
            assert_eq!(got, expected);
            assert!(text.contains(RU));
        }
    }

    #[test]
    fn bom_beats_header_and_meta() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(page(r#"<meta charset="windows-1251">"#, RU).as_bytes());
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=koi8-r"));
        assert_eq!(enc, UTF_8);
        assert!(text.contains(RU));
        assert!(!text.starts_with('\u{feff}'));
    }

    #[test]
    fn utf16le_bom() {
        let html = page("", RU);
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(html.encode_utf16().flat_map(u16::to_le_bytes));
        let (text, enc) = decode_html(&bytes, None);
        assert_eq!(enc, UTF_16LE);
        assert_eq!(text, html);
    }

    #[test]
    fn http_header_beats_meta() {
        let bytes = encode(KOI8_R, &page(r#"<meta charset="windows-1251">"#, RU));
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=\"koi8-r\""));
        assert_eq!(enc, KOI8_R);
        assert!(text.contains(RU));
    }

    #[test]
    fn header_without_charset_falls_back_to_meta() {
        let bytes = encode(ISO_8859_2, &page(r#"<meta charset="iso-8859-2">"#, "Łódź"));
        let (text, enc) = decode_html(&bytes, Some("text/html"));
        assert_eq!(enc, ISO_8859_2);
        assert!(text.contains("Łódź"));
    }

    #[test]
    fn meta_in_comment_or_attribute_is_ignored() {
        let html = page(
            r#"<!-- <meta charset="koi8-r"> --><link title='<meta charset="koi8-r">'><meta charset=windows-1251>"#,
            RU,
        );
        let bytes = encode(WINDOWS_1251, &html);
        assert_eq!(prescan_meta(&bytes), Some(WINDOWS_1251));
    }

    #[test]
    fn meta_after_1024_bytes_is_not_seen() {
        let padding = "x".repeat(1100);
        let html = format!("<html><head><!-- {padding} --><meta charset=koi8-r>");
        assert_eq!(prescan_meta(html.as_bytes()), None);
    }

    #[test]
    fn meta_utf16_label_means_utf8() {
        assert_eq!(prescan_meta(b"<meta charset=utf-16le>"), Some(UTF_8));
    }

    #[test]
    fn unknown_or_replacement_labels_are_skipped() {
        assert_eq!(charset_from_content_type("text/html; charset=bogus"), None);
        assert_eq!(
            charset_from_content_type("text/html; charset=iso-2022-kr"),
            None
        );
    }

    #[test]
    fn invalid_bytes_are_replaced_not_fatal() {
        let (text, enc) = decode_html(b"<p>ok \xff\xfe\xfd</p>", Some("text/html; charset=utf-8"));
        assert_eq!(enc, UTF_8);
        assert!(text.contains('\u{fffd}'));
        let (text, _) = decode_html(b"", None);
        assert!(text.is_empty());
    }
}
