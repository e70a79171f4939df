//! Post-processing of the article HTML that dom_smoothie selected: drops
//! link-dense blocks it keeps ("Related stories" lists nested inside the
//! article container) and normalises the formatted text into paragraphs
//! separated by exactly one blank line.
//!
//! This module must stay pure: no I/O, no clock, no globals.

use std::collections::HashMap;

use dom_query::{Document, NodeId, NodeRef};

use super::memory::{HostMemory, MIN_BLOCK_WORDS, PageBlocks, text_hash};

/// Containers that, when mostly links, are navigation rather than prose.
const BLOCK_TAGS: &[&str] = &[
    "div", "section", "aside", "nav", "ul", "ol", "table", "header", "footer", "form", "figure",
];

/// A container is link-dense when more than this share of its text sits
/// inside `<a>`. Readability's own cleaner uses 0.2–0.5 depending on weight;
/// 0.5 is conservative enough to keep prose with many inline citations.
const BLOCK_LINK_DENSITY: f64 = 0.5;

/// A link-dense container is kept anyway when it has this much text outside
/// links: that is prose (with a link list somewhere inside it), not a menu.
const MAX_NON_LINK_CHARS: usize = 200;

/// A paragraph is dropped only when it is essentially one link ("Read more:
/// …"); prose paragraphs with a long inline link must survive.
const PARAGRAPH_LINK_DENSITY: f64 = 0.9;

/// Renders the article HTML (dom_smoothie's `Article::content`) as plain text
/// with link-dense blocks removed.
pub fn article_text(content_html: &str) -> String {
    let cleaner = Cleaner {
        title: "",
        authors: &[],
        protected: &[],
        memory: None,
        filters: true,
    };
    cleaner.clean(content_html, &mut PageBlocks::default())
}

/// Turns a selected main block into text, applying the post-filters and
/// the host's learned template blocks.
pub struct Cleaner<'a> {
    pub title: &'a str,
    pub authors: &'a [String],
    /// Title/summary texts: a block equal to one of these is never dropped
    /// as template (a site may repeat its standfirst as the first paragraph).
    pub protected: &'a [&'a str],
    pub memory: Option<&'a HostMemory>,
    /// Run the heuristic post-filters (link density, widgets, captions).
    pub filters: bool,
}

/// Page furniture recognisable by markup: captions and credits, galleries,
/// share/subscribe/newsletter boxes, author bios. dom_smoothie is run with
/// `keep_classes` so these class hints survive into its output.
const WIDGET_SELECTORS: &str = "figcaption, button, form, [class*=caption], [class*=credit], \
     [class*=gallery], [class*=slideshow], [class*=share], [class*=social], \
     [class*=newsletter], [class*=subscri], [class*=promo], [id*=newsletter], \
     [class*=related], [class*=author-bio], [class*=byline], [class*=timestamp], \
     [class*=dateline], [class*=signup], [class*=sign-up]";

/// A class-matched widget is removed only when it is small next to the
/// whole text: class names are hints, and a wrapper such as
/// `class="post has-share-bar"` can hold the entire article.
const MAX_WIDGET_SHARE: f64 = 0.25;

/// A box with more paragraphs than this is content, whatever its class,
/// except for caption boxes (see [`is_caption_box`]).
const MAX_WIDGET_PARAGRAPHS: usize = 2;

/// Caption and credit boxes often hold several paragraphs (full and
/// truncated caption, credit, slide counter); for them only the size share
/// limits removal.
fn is_caption_box(node: &NodeRef) -> bool {
    node.has_name("figcaption")
        || node.attr("class").is_some_and(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("caption") || c.contains("credit")
        })
}

fn remove_widgets(doc: &Document, stats: &Stats) {
    let total = doc.body().map_or(0, |b| stats.get(&b).chars);
    let candidates: Vec<NodeRef> = doc.select(WIDGET_SELECTORS).nodes().to_vec();
    for node in candidates {
        if is_detached(&node) {
            continue;
        }
        let Counts {
            chars, paragraphs, ..
        } = stats.get(&node);
        if (chars as f64) <= MAX_WIDGET_SHARE * total as f64
            && (paragraphs <= MAX_WIDGET_PARAGRAPHS || is_caption_box(&node))
        {
            node.remove_from_parent();
        }
    }
}

/// Elements whose text is one block for fingerprinting and filtering.
const TEXT_BLOCKS: &[&str] = &[
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "figcaption",
    "dd",
    "dt",
    "div",
    "section",
    "aside",
    "center",
];

/// Inside these a block is part of a larger unit (a sentence, a table
/// row) and is judged with it, never alone. `li` and `blockquote` are not
/// listed: when they hold paragraphs (gallery slides, quoted letters) those
/// paragraphs are the units.
const UNIT_ANCESTORS: &[&str] = &[
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "dd", "dt",
];

impl Cleaner<'_> {
    /// Cleans `content_html` and adds its blocks' fingerprints to `blocks`.
    pub fn clean(&self, content_html: &str, blocks: &mut PageBlocks) -> String {
        let doc = Document::from(content_html);
        let stats = Stats::measure(&doc);
        if self.filters {
            remove_link_dense_blocks(&doc, &stats);
            remove_widgets(&doc, &stats);
        }
        self.filter_blocks(&doc, &stats, blocks);
        let text = doc
            .body()
            .map(|body| body.formatted_text().to_string())
            .unwrap_or_default();
        normalize(&text)
    }

    fn filter_blocks(&self, doc: &Document, stats: &Stats, blocks: &mut PageBlocks) {
        let protected: Vec<u64> = self.protected.iter().map(|p| text_hash(p).0).collect();
        // A name check per element is far cheaper than matching a
        // sixteen-way selector list.
        let Some(body) = doc.body() else { return };
        let candidates: Vec<NodeRef> = body
            .descendants_it()
            .filter(|n| local_name(n).is_some_and(|l| TEXT_BLOCKS.contains(&&*l)))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let total_chars = stats.get(&body).chars;
        // The previous kept leaf block, for back-to-back duplicates.
        let mut prev: Option<(u64, NodeRef)> = None;
        for node in candidates {
            if stats.get(&node).has_block || detached_or_inside_unit(&node) {
                continue;
            }
            let text = node.text();
            let text = text.trim();
            // One hash per block serves learning, memory, hint protection
            // and duplicate detection.
            let (hash, words) = text_hash(text);
            if words == 0 {
                continue;
            }
            let fp = (words >= MIN_BLOCK_WORDS).then_some(hash);
            if let Some(fp) = fp {
                blocks.push(fp);
            }
            let protected = protected.contains(&hash);
            let template = !protected
                && fp.is_some_and(|fp| self.memory.is_some_and(|m| m.is_boilerplate_fp(fp)));
            let widget = self.filters && !protected && is_widget_text(text);
            let byline = self.filters && (self.is_byline(text) || self.is_breadcrumb(text));
            // Captions repeated by galleries and slideshows. Only for
            // non-paragraph blocks: interviews repeat questions and recipes
            // repeat lines, as real `<p>`/`<li>` text.
            let repeated = self.filters
                && !["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt"]
                    .iter()
                    .any(|t| node.has_name(t))
                && fp.is_some_and(|fp| !seen.insert(fp));
            if template || widget || byline || repeated {
                node.remove_from_parent();
                continue;
            }
            if self.filters && is_about_author_heading(text) {
                remove_box_of(&node, stats, total_chars);
                continue;
            }
            // A paragraph printed twice in a row inside a small box is a
            // widget rendered for two layouts (mobile/desktop), not prose:
            // AEB's 181 true texts contain no back-to-back repeated
            // paragraph. Both copies go, and the box with them if only a
            // label is left. The small-box condition keeps a repeated
            // paragraph that is part of the article's own flow.
            let parent = node.parent();
            let in_small_box = parent.as_ref().is_some_and(|p| {
                (stats.get(p).chars as f64) <= MAX_WIDGET_SHARE * total_chars as f64
            });
            if let (true, Some(fp), Some((prev_fp, prev_node))) = (self.filters, fp, &prev)
                && fp == *prev_fp
                && !protected
                && in_small_box
            {
                prev_node.remove_from_parent();
                node.remove_from_parent();
                if let Some(parent) = parent
                    && !parent.has_name("body")
                    && visible_chars(&parent.text()) < MAX_LABEL_CHARS
                {
                    parent.remove_from_parent();
                }
                prev = None;
                continue;
            }
            prev = fp.map(|fp| (fp, node));
        }
    }

    /// "Home › Sport News › <headline>": a short block that ends with the
    /// title but is more than the title.
    fn is_breadcrumb(&self, text: &str) -> bool {
        let title_words = words_lower(self.title);
        if title_words.len() < 3 || text.chars().count() > self.title.chars().count() + 80 {
            return false;
        }
        let words = words_lower(text);
        words.len() > title_words.len() && words.ends_with(&title_words)
    }

    /// A short block that only names the author(s) already in metadata.
    fn is_byline(&self, text: &str) -> bool {
        if self.authors.is_empty() || text.chars().count() > MAX_BYLINE_CHARS {
            return false;
        }
        let lower = text.to_lowercase();
        let stripped = lower
            .trim_start_matches("by ")
            .trim_start_matches("written by ")
            .trim();
        self.authors.iter().any(|a| same_words(a, stripped))
    }
}

/// A box reduced to this little text is just its label ("Uncommon
/// Knowledge", "More") and goes too.
const MAX_LABEL_CHARS: usize = 40;

/// "About the writer", "About the author", "Об авторе": the heading of an
/// author-bio box, which repeats metadata and is not article text.
fn is_about_author_heading(text: &str) -> bool {
    if text.chars().count() > 40 {
        return false;
    }
    let words = words_lower(text);
    let joined = words.join(" ");
    matches!(
        joined.as_str(),
        "about the author"
            | "about the authors"
            | "about the writer"
            | "about the reporter"
            | "about the contributor"
            | "about author"
            | "author bio"
            | "об авторе"
            | "sobre o autor"
            | "sobre el autor"
            | "über den autor"
            | "à propos de l auteur"
    )
}

/// Removes the box a heading labels: its parent when the parent is small
/// (see [`MAX_WIDGET_SHARE`]), else the heading and the element after it.
fn remove_box_of(heading: &NodeRef, stats: &Stats, total_chars: usize) {
    if let Some(parent) = heading.parent()
        && !parent.has_name("body")
    {
        let c = stats.get(&parent);
        if (c.chars as f64) <= MAX_WIDGET_SHARE * total_chars as f64
            && c.paragraphs <= MAX_WIDGET_PARAGRAPHS
        {
            parent.remove_from_parent();
            return;
        }
    }
    let next = heading.next_element_sibling();
    heading.remove_from_parent();
    if let Some(next) = next {
        next.remove_from_parent();
    }
}

/// One ancestor walk for two questions: was the node removed with an
/// ancestor (its chain no longer reaches `<body>`), or does it sit inside a
/// unit such as a paragraph or table?
fn detached_or_inside_unit(node: &NodeRef) -> bool {
    for a in node.ancestors_it(None) {
        let Some(name) = local_name(&a) else { continue };
        if &*name == "body" {
            return false;
        }
        if UNIT_ANCESTORS.contains(&&*name) {
            return true;
        }
    }
    true
}

/// The element's tag name, read once (each `has_name` call borrows the
/// tree again).
fn local_name(node: &NodeRef) -> Option<dom_query::LocalName> {
    node.qual_name_ref().map(|q| q.local.clone())
}

/// Phrases that open call-to-action and teaser blocks. Matched only at the
/// start of a short block, so prose that mentions them survives.
const WIDGET_PREFIXES: &[&str] = &[
    "read more",
    "read also",
    "also read",
    "see also",
    "related:",
    "related articles",
    "related stories",
    "recommended",
    "sign up",
    "subscribe",
    "click here",
    "share this",
    "share on",
    "follow us",
    "advertisement",
    "download the app",
    "get the latest",
    "join our",
    "don't miss",
    "continue reading",
    "more from",
    "watch:",
    "listen:",
    "photo:",
    "foto:",
    "фото:",
    "photos:",
    "image:",
    "(image:",
    "credit:",
    "this slideshow requires",
    "this post may contain",
    "this article may contain",
    "this page may contain",
    "we may earn",
    "tell us what you think",
    "читайте также",
    "подписывайтесь",
];

/// Whole-block UI labels left behind by galleries, players and ad slots.
const UI_LABELS: &[&str] = &[
    "caption",
    "close",
    "advert",
    "advertisement",
    "ad",
    "comments",
    "loading",
    "next",
    "previous",
    "share",
    "print",
    "email",
    "expand",
    "enlarge",
    "play",
    "replay",
];

/// Words of social-share button rows ("Whatsapp Facebook Pint Baixar").
const SHARE_WORDS: &[&str] = &[
    "facebook",
    "twitter",
    "whatsapp",
    "pinterest",
    "pin",
    "pint",
    "linkedin",
    "email",
    "e",
    "mail",
    "share",
    "tweet",
    "reddit",
    "print",
    "copy",
    "link",
    "telegram",
    "messenger",
    "sms",
    "flipboard",
    "tumblr",
    "vk",
    "baixar",
    "download",
    "compartilhar",
    "save",
    "comment",
    "comments",
    "x",
];

/// Words a date line is made of (English month/day names, time words and
/// the "Updated/Published" labels); anything else means it is prose.
const DATE_WORDS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
    "am",
    "pm",
    "a",
    "p",
    "m",
    "at",
    "on",
    "updated",
    "update",
    "published",
    "posted",
    "last",
    "modified",
    "publicado",
    "atualizado",
    "est",
    "edt",
    "cst",
    "cdt",
    "pst",
    "pdt",
    "mst",
    "mdt",
    "gmt",
    "utc",
    "bst",
    "cet",
    "cest",
    "ist",
    "et",
    "pt",
    "ago",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "min",
    "mins",
    "h",
    "hrs",
    "yesterday",
    "today",
];

/// Call-to-action blocks are short; a long paragraph opening with "Read
/// more" is unlikely but would be prose.
const MAX_WIDGET_CHARS: usize = 160;

/// Contact and caption lines are longer than buttons but still well under
/// a normal paragraph.
const MAX_FOOTNOTE_CHARS: usize = 300;

fn words_lower(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Call-to-action, share rows, UI labels, date lines, photo credits,
/// captions and author-contact footers.
fn is_widget_text(text: &str) -> bool {
    let chars = text.chars().count();
    if chars > MAX_FOOTNOTE_CHARS {
        return false;
    }
    let lower = text.to_lowercase();
    let lower = lower.trim_start_matches(['|', '-', '—', '•', ' ']);
    if chars <= MAX_WIDGET_CHARS && WIDGET_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    // "To read how we use AI, click here." / "Isabel covers … Read more".
    let end = lower.trim_end_matches(['.', '!', ' ', '…', '>', '»', '→']);
    // Newsletter pitches and comment-policy notices.
    if (lower.contains("newsletter")
        && ["sign up", "subscribe", "inbox"]
            .iter()
            .any(|k| lower.contains(k)))
        || (lower.contains("moderat")
            && ["comment", "comentário", "комментар"]
                .iter()
                .any(|k| lower.contains(k)))
    {
        return true;
    }
    // Prose almost never says "click here"; short blocks that do are
    // calls to action wherever the phrase sits.
    if chars <= MAX_WIDGET_CHARS && lower.contains("click here") {
        return true;
    }
    if chars <= MAX_WIDGET_CHARS
        && [
            "read more",
            "learn more",
            "find out more",
            "subscribe now",
            "sign up now",
        ]
        .iter()
        .any(|s| end.ends_with(s))
    {
        return true;
    }
    let words = words_lower(lower);
    if words.is_empty() {
        // Punctuation or symbols only: separators, icons.
        return true;
    }
    if words.len() <= 2 && UI_LABELS.contains(&words.join(" ").as_str()) {
        return true;
    }
    if words.len() >= 2 && words.iter().all(|w| SHARE_WORDS.contains(&w.as_str())) {
        return true;
    }
    if chars <= MAX_WIDGET_CHARS && is_date_line(&words) {
        return true;
    }
    // Gallery counters: "Image 1 of 8", "1 / 12".
    if words.len() <= 5
        && words
            .iter()
            .any(|w| ["image", "photo", "slide"].contains(&w.as_str()))
        && words.iter().all(|w| {
            w.chars().all(|c| c.is_ascii_digit())
                || ["image", "photo", "of", "slide"].contains(&w.as_str())
        })
    {
        return true;
    }
    // Photo credits: "Jane Doe | Bloomberg | Getty Images".
    if chars <= MAX_WIDGET_CHARS
        && [
            "getty images",
            "shutterstock",
            "ap photo",
            "/afp",
            "afp via getty",
            "reuters/",
        ]
        .iter()
        .any(|m| lower.contains(m))
        && !lower.contains(". ")
    {
        return true;
    }
    // Wire-photo captions end with the agency credit.
    let tail = lower.trim_end_matches([' ', '.']);
    if tail.ends_with(')')
        && [
            "(ap photo",
            "(image:",
            "(photo:",
            "(reuters",
            "(getty",
            "(afp",
            "(photo by",
        ]
        .iter()
        .any(|m| tail.contains(m))
    {
        return true;
    }
    is_contact_footer(lower)
}

/// "Email Jane at jane@x.com or follow her @jane", "Reach the reporter on
/// Twitter at …": author contact lines appended after the story.
fn is_contact_footer(lower: &str) -> bool {
    if [
        "on twitter @",
        "follow him on",
        "follow her on",
        "follow them on",
        "follow us on",
        "follow me on",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return true;
    }
    let has_handle = lower.contains('@') || lower.contains("twitter.com/");
    let opens = [
        "email ",
        "e-mail ",
        "follow ",
        "reach ",
        "contact ",
        "have a tip",
        "you can reach",
        "write to ",
    ]
    .iter()
    .any(|p| lower.starts_with(p));
    has_handle && opens
}

/// A line of only dates, times and "Updated"/"Published" labels, with at
/// least one number in it.
fn is_date_line(words: &[String]) -> bool {
    let has_digit = words.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()));
    has_digit
        && words.iter().all(|w| {
            DATE_WORDS.contains(&w.as_str())
                || w.chars().all(|c| c.is_ascii_digit())
                // "17:19", "5pm", "2019年" style fragments.
                || w.chars().next().is_some_and(|c| c.is_ascii_digit())
                    && w.chars().filter(|c| c.is_alphabetic()).count() <= 2
        })
}

fn same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    let wa = words(a);
    !wa.is_empty() && wa == words(b)
}

fn remove_link_dense_blocks(doc: &Document, stats: &Stats) {
    // Collected first because removing while iterating the live tree would
    // skip nodes. Document order judges a container before its children, so
    // a "Related" block goes together with its heading; the prose guard
    // (`MAX_NON_LINK_CHARS`) keeps a wrapper that holds real paragraphs next
    // to a long link list, and the list is then judged on its own.
    let candidates: Vec<NodeRef> = doc
        .select("div, section, aside, nav, ul, ol, table, header, footer, form, figure, p")
        .nodes()
        .to_vec();
    for node in candidates {
        let is_paragraph = node.has_name("p");
        if !is_paragraph && !BLOCK_TAGS.iter().any(|t| node.has_name(t)) {
            continue;
        }
        // Removed along with an outer block earlier in this loop.
        if is_detached(&node) {
            continue;
        }
        // The outermost wrapper is the article itself; if all of it is
        // links, that is for the caller's "too little text" check to judge.
        if node.parent().is_none_or(|p| p.has_name("body")) {
            continue;
        }
        let c = stats.get(&node);
        let (total, linked) = (c.chars, c.link_chars);
        if total == 0 {
            continue;
        }
        let dense = if is_paragraph {
            linked as f64 > PARAGRAPH_LINK_DENSITY * total as f64
                || (total < MAX_TEASER_CHARS && linked as f64 > TEASER_LINK_DENSITY * total as f64)
        } else {
            linked as f64 > BLOCK_LINK_DENSITY * total as f64 && total - linked < MAX_NON_LINK_CHARS
        };
        if dense {
            node.remove_from_parent();
        }
    }
}

/// A short paragraph that is mostly one link plus a label ("Plague fears:
/// holidaymakers die [INSIGHT]") is a teaser, not prose.
const MAX_TEASER_CHARS: usize = 200;
const TEASER_LINK_DENSITY: f64 = 0.6;

/// Subtree sizes of one node, measured once before any filtering.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    /// Non-whitespace characters of text.
    chars: usize,
    /// Of which inside `<a>`.
    link_chars: usize,
    /// `<p>` descendants.
    paragraphs: usize,
    /// Whether any descendant is a block element (see [`BLOCK_NAMES`]).
    has_block: bool,
}

const BLOCK_NAMES: &[&str] = &[
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "table",
    "section",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "article",
    "aside",
    "pre",
    "center",
];

/// Per-node [`Counts`], filled by one post-order walk so the filters do
/// not re-read the text of every nested container (quadratic on deep
/// markup).
struct Stats {
    map: HashMap<NodeId, Counts>,
}

impl Stats {
    fn measure(doc: &Document) -> Self {
        let mut map = HashMap::new();
        let Some(body) = doc.body() else {
            return Stats { map };
        };
        // Explicit stack: (node, children pushed?). Hostile nesting must
        // not overflow ours.
        let mut stack = vec![(body, false)];
        while let Some((node, expanded)) = stack.pop() {
            if !expanded {
                stack.push((node, true));
                for child in node.children_it(false) {
                    if child.is_element() {
                        stack.push((child, false));
                    }
                }
                continue;
            }
            let mut c = Counts::default();
            for child in node.children_it(false) {
                if child.is_text() {
                    c.chars += visible_chars(&child.text());
                } else if let Some(cc) = map.get(&child.id).copied() {
                    let cc: Counts = cc;
                    c.chars += cc.chars;
                    c.link_chars += cc.link_chars;
                    let name = local_name(&child);
                    c.paragraphs += cc.paragraphs + usize::from(name.as_deref() == Some("p"));
                    c.has_block |= cc.has_block || name.is_some_and(|n| BLOCK_NAMES.contains(&&*n));
                }
            }
            if node.has_name("a") {
                c.link_chars = c.chars;
            }
            map.insert(node.id, c);
        }
        Stats { map }
    }

    fn get(&self, node: &NodeRef) -> Counts {
        self.map.get(&node.id).copied().unwrap_or_default()
    }
}

/// A node whose ancestor chain no longer reaches `<body>` was detached.
fn is_detached(node: &NodeRef) -> bool {
    !node.ancestors_it(None).any(|a| a.has_name("body"))
}

fn visible_chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// Trims every line, collapses runs of horizontal whitespace, and separates
/// paragraphs with exactly one blank line. Single line breaks (from `<br>`
/// or list items) are kept: they carry structure inside a paragraph.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_blank = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            pending_blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if pending_blank { "\n\n" } else { "\n" });
        }
        pending_blank = false;
        out.push_str(&words.join(" "));
    }
    out
}

/// A leading line this short, without sentence punctuation, can be a byline.
const MAX_BYLINE_CHARS: usize = 100;

/// Drops the headline and byline that Readability often leaves at the top of
/// the text: they are already in `Article::title`/`authors`, and repeating
/// them would skew similarity and keyword matching downstream. Only leading
/// paragraphs are touched, and never all of them.
pub fn strip_leading_title_and_byline(text: &str, title: &str, authors: &[String]) -> String {
    let same = |a: &str, b: &str| {
        let squash = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        squash(a) == squash(b)
    };
    let is_byline = |p: &str| {
        let short = p.chars().count() <= MAX_BYLINE_CHARS && !p.ends_with(['.', '!', '?', ':']);
        let lower = p.to_lowercase();
        short
            && (lower.starts_with("by ")
                || authors.iter().any(|a| same(a, p))
                || (!authors.is_empty()
                    && authors.iter().all(|a| lower.contains(&a.to_lowercase()))))
    };
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let skip = paragraphs
        .iter()
        .take(3)
        .take_while(|p| (!title.is_empty() && same(p, title)) || is_byline(p))
        .count();
    if skip == 0 || skip == paragraphs.len() {
        return text.to_owned();
    }
    paragraphs[skip..].join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_title_and_byline_are_stripped() {
        let authors = vec!["Jane Doe".to_owned()];
        let text = "Big  News\n\nBy Jane Doe\n\nBody by Jane Doe.\n\nMore.";
        assert_eq!(
            strip_leading_title_and_byline(text, "big news", &authors),
            "Body by Jane Doe.\n\nMore."
        );
        // Nothing is stripped when it would leave no text.
        assert_eq!(
            strip_leading_title_and_byline("Big News", "Big News", &authors),
            "Big News"
        );
        // A sentence starting with "By" is prose, not a byline.
        let prose = "By Monday the river had risen two metres.\n\nMore.";
        assert_eq!(strip_leading_title_and_byline(prose, "", &[]), prose);
    }

    #[test]
    fn normalize_collapses_blank_runs_and_spaces() {
        let raw = "  \n\n First  para \u{a0}\n second line\n\n\n\n  Second\tpara  \n\n";
        assert_eq!(normalize(raw), "First para\nsecond line\n\nSecond para");
        assert_eq!(normalize(" \n \n"), "");
    }

    #[test]
    fn link_dense_blocks_are_dropped_prose_with_links_kept() {
        let html = r#"<div>
            <p>The ministry said on Monday that <a href="/x">the new rules</a> would apply from May.</p>
            <div class="related"><h3>Related</h3><ul>
              <li><a href="/a">First related headline here</a></li>
              <li><a href="/b">Second related headline here</a></li>
            </ul></div>
            <p><a href="/c">Read more: a linked teaser headline</a></p>
            <p>Last paragraph of the story.</p>
        </div>"#;
        let text = article_text(html);
        assert!(
            text.contains("the new rules would apply from May."),
            "{text:?}"
        );
        assert!(text.contains("Last paragraph of the story."));
        assert!(!text.contains("related headline"));
        assert!(!text.contains("Read more"));
    }

    #[test]
    fn widget_lines_are_recognised_prose_is_not() {
        for w in [
            "Whatsapp Facebook Pint Baixar",
            "Updated 5:27 am CST, Wednesday, November 20, 2019",
            "PUBLISHED: 10:48, Tue, Nov 19, 2019",
            "Image 1 of 8",
            "Caption",
            "Photo: Hau Dinh, AP",
            "Natalie Naccache | Bloomberg | Getty Images",
            "A long row of cars at a dealership in Littleton, Colo. (AP Photo/David Zalubowski)",
            "Email Tariq Malik at tmalik@space.com or follow him @tariqjmalik.",
            "To read how Newsweek uses AI as a newsroom tool, Click here.",
            "This post may contain affiliate links.",
            "Read more: Council faces vote",
            "Sign up for The Daily Brief to get the free newsletter delivered to your inbox.",
        ] {
            assert!(is_widget_text(w), "{w:?}");
        }
        for prose in [
            "Updated figures released on Monday showed 20 more cases.",
            "The mayor said on 5 May that she would read more reports before deciding.",
            "© Reuters",
            "He was born on November 20, 2019 at 5 am in a taxi, the family said.",
            "Newsweek has contacted Russia's foreign ministry for comment.",
        ] {
            assert!(!is_widget_text(prose), "{prose:?}");
        }
    }

    #[test]
    fn about_author_headings() {
        assert!(is_about_author_heading("About the writer"));
        assert!(is_about_author_heading("ABOUT THE AUTHOR:"));
        assert!(!is_about_author_heading(
            "About the writer's new book, published today"
        ));
    }
}
