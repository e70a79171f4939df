//! The hard limits a feed document must stay within, and the errors that name them. The
//! reader checks them in its single pass, so a hostile document costs a clear error after at
//! most one look at each byte. This module owns the numbers and the wording; it must never be
//! made configurable per feed (the point is that no document can ask for more) and never be
//! tightened below what real feeds need: a legitimate 16 MiB feed (the fetcher's default body
//! limit) with tens of thousands of items must parse.

/// Open elements at once. Real feeds nest fewer than 40 deep even with XHTML content inside
/// (feed → entry → content → div → table → tr → td → …); sloppy HTML that never closes `<br>`
/// or `<img>` does not count, because void HTML elements inside a field are not kept open.
pub const MAX_DEPTH: usize = 256;

/// Start tags in one document. The smallest useful element (`<a>x</a>`) takes 8 bytes, so a
/// 16 MiB feed cannot hold more than about two million; real feeds average well over 30 bytes
/// an element.
pub const MAX_ELEMENTS: usize = 2_000_000;

/// Items in one document. A 60,000-item archive feed is the largest we have seen in the wild;
/// an item with a title and a link takes over 100 bytes, so a 16 MiB feed holds at most about
/// 170,000 real ones. Each item costs a few hundred bytes even when empty, which is what this
/// bounds.
pub const MAX_ITEMS: usize = 250_000;

/// Attributes on one element. Real elements carry fewer than 20; 256 leaves room for XHTML
/// content with many `data-` attributes and namespace declarations.
pub const MAX_ATTRIBUTES: usize = 256;

/// Bytes in one attribute value. URLs with tracking parameters reach a few KiB; inline images
/// as `data:` URIs in XHTML content reach a few hundred KiB.
pub const MAX_ATTRIBUTE_BYTES: usize = 1024 * 1024;

/// Bytes of character data in one uninterrupted run of text (text, CDATA and references
/// between two tags). Full-text feeds put whole articles, sometimes with `data:` images, in
/// one CDATA section; a few MiB is the most a real one needs.
pub const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// Bytes in a resolved `xml:base`. Longer bases are ignored (the parent's base stays in force),
/// not an error: no real base is that long, and ignoring it keeps each element's share of base
/// resolution small, which is what makes a flood of nested relative bases cheap.
pub const MAX_BASE_BYTES: usize = 2048;

/// Field caps, applied before anything downstream sees the text.
pub const MAX_TITLE_CHARS: usize = 1000;
/// Plain-text summary, in bytes (cut at a character boundary).
pub const MAX_SUMMARY_BYTES: usize = 16 * 1024;
/// HTML content, in bytes (cut at a character boundary).
pub const MAX_CONTENT_BYTES: usize = 512 * 1024;
/// Authors kept per item, and characters kept per author.
pub const MAX_AUTHORS: usize = 32;
pub const MAX_AUTHOR_CHARS: usize = 256;

/// Why a document is not a feed we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("not a readable RSS, Atom or JSON feed: {0}")]
    NotAFeed(String),
    #[error("feed nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("feed has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("feed has more than {MAX_ITEMS} items")]
    TooManyItems,
    #[error("an element of the feed has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("an attribute value in the feed is longer than {MAX_ATTRIBUTE_BYTES} bytes")]
    AttributeTooLong,
    #[error("a text node of the feed is longer than {MAX_TEXT_BYTES} bytes")]
    TextTooLong,
}
