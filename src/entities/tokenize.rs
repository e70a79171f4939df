//! CoNLL-style tokenisation and sentence splitting for raw article text.
//!
//! Owns the mapping from a string to tokens with byte offsets, split the way
//! the CoNLL-2003 training data is (punctuation and possessive `'s` are
//! separate tokens, hyphenated words and abbreviations such as "U.S." stay
//! whole), because the model only recognises what looks like its training
//! data. It deliberately does not reuse [`crate::text::analyze`], which
//! drops punctuation and folds case — both are signals for NER. It must
//! never change the text: every token is a slice of the input.

use std::ops::Range;

/// A token as a byte range of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokSpan {
    pub start: usize,
    pub end: usize,
}

/// Hard cap on sentence length: text without punctuation (lists, menus)
/// would otherwise give Viterbi one enormous sentence, and the model never
/// saw sentences that long.
const MAX_SENTENCE_TOKENS: usize = 120;

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "col", "lt", "sgt", "capt", "gov", "sen",
    "rep", "prof", "inc", "corp", "co", "ltd", "vs", "no", "jan", "feb", "aug", "sept", "oct",
    "nov", "dec", "mt", "ft", "rev", "maj", "adm", "cmdr", "pres", "messrs",
];

fn is_open_punct(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '„' | '«' | '(' | '[' | '{' | '`' | '¿' | '¡' | '•' | '*'
    )
}

fn is_close_punct(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '}' | ',' | ';' | ':' | '!' | '?' | '…' | '*'
    )
}

fn is_dash(c: char) -> bool {
    matches!(c, '—' | '–' | '―')
}

/// Splits `text` into tokens.
pub fn tokenize(text: &str) -> Vec<TokSpan> {
    let mut out = Vec::new();
    let mut chunk_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || is_dash(c) {
            if let Some(s) = chunk_start.take() {
                split_chunk(text, s, i, &mut out);
            }
            if is_dash(c) {
                out.push(TokSpan {
                    start: i,
                    end: i + c.len_utf8(),
                });
            }
        } else if chunk_start.is_none() {
            chunk_start = Some(i);
        }
    }
    if let Some(s) = chunk_start {
        split_chunk(text, s, text.len(), &mut out);
    }
    out
}

/// Peels punctuation off one whitespace-delimited chunk.
fn split_chunk(text: &str, mut start: usize, mut end: usize, out: &mut Vec<TokSpan>) {
    // Leading punctuation, one token per character.
    while start < end {
        let Some(c) = text[start..end].chars().next() else {
            break;
        };
        if is_open_punct(c) && end - start > c.len_utf8() {
            out.push(TokSpan {
                start,
                end: start + c.len_utf8(),
            });
            start += c.len_utf8();
        } else {
            break;
        }
    }
    // Trailing punctuation and clitics, collected in reverse.
    let mut tail: Vec<TokSpan> = Vec::new();
    loop {
        let word = &text[start..end];
        let Some(c) = word.chars().next_back() else {
            break;
        };
        if word.len() == c.len_utf8() {
            break;
        }
        if is_close_punct(c) || (c == '.' && !keeps_period(&word[..word.len() - 1])) {
            tail.push(TokSpan {
                start: end - c.len_utf8(),
                end,
            });
            end -= c.len_utf8();
            continue;
        }
        // Possessive/clitic 's, as CoNLL splits it ("Russia 's").
        if let Some(cut) = clitic_start(word)
            && cut > 0
        {
            tail.push(TokSpan {
                start: start + cut,
                end,
            });
            end = start + cut;
        }
        break;
    }
    if start < end {
        out.push(TokSpan { start, end });
    }
    out.extend(tail.into_iter().rev());
}

/// Byte index where a trailing `'s`/`’s` starts, if any.
fn clitic_start(word: &str) -> Option<usize> {
    for suffix in ["'s", "’s", "'S", "’S"] {
        if word.len() > suffix.len() && word.ends_with(suffix) {
            return Some(word.len() - suffix.len());
        }
    }
    None
}

/// Whether `word` (without its final period) is an abbreviation whose
/// period belongs to it: initials ("J"), dotted acronyms ("U.S"), titles.
fn keeps_period(word: &str) -> bool {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => return c.is_alphabetic(),
        (None, _) => return false,
        _ => {}
    }
    if word.contains('.') && word.chars().all(|c| c.is_alphabetic() || c == '.') {
        return true;
    }
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
}

/// Splits `text` into sentences of tokens. Returns the tokens and, for each
/// sentence, the range of token indices it covers.
pub fn sentences(text: &str) -> (Vec<TokSpan>, Vec<Range<usize>>) {
    let tokens = tokenize(text);
    let mut ranges = Vec::new();
    let mut begin = 0;
    let mut pending_end = false;
    for i in 0..tokens.len() {
        let tok = &text[tokens[i].start..tokens[i].end];
        // A line break between tokens always ends a sentence: titles,
        // captions and list items rarely end with a full stop.
        let newline_before = i > begin && text[tokens[i - 1].end..tokens[i].start].contains('\n');
        // A quote or bracket glued to the full stop ('."') still belongs to
        // the sentence that ends; one after a space opens the next.
        let closing = i > 0
            && tokens[i].start == tokens[i - 1].end
            && tok
                .chars()
                .all(|c| matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»'));
        if i > begin
            && (newline_before || (pending_end && !closing) || i - begin >= MAX_SENTENCE_TOKENS)
        {
            ranges.push(begin..i);
            begin = i;
            pending_end = false;
        }
        if matches!(tok, "." | "!" | "?" | "…") {
            pending_end = true;
        }
    }
    if begin < tokens.len() {
        ranges.push(begin..tokens.len());
    }
    (tokens, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text)
            .iter()
            .map(|t| &text[t.start..t.end])
            .collect()
    }

    #[test]
    fn splits_like_conll() {
        assert_eq!(
            words("Russia's \"U.S.\" Mr. Smith (AFP) said: Anti-War—now."),
            vec![
                "Russia", "'s", "\"", "U.S.", "\"", "Mr.", "Smith", "(", "AFP", ")", "said", ":",
                "Anti-War", "—", "now", "."
            ]
        );
        assert_eq!(
            words("Soldiers' Mothers’s"),
            vec!["Soldiers", "'", "Mothers", "’s"]
        );
    }

    #[test]
    fn splits_sentences() {
        let text = "He said it. \"Yes.\" Then\nTitle here";
        let (toks, ranges) = sentences(text);
        let sents: Vec<Vec<&str>> = ranges
            .iter()
            .map(|r| {
                toks[r.clone()]
                    .iter()
                    .map(|t| &text[t.start..t.end])
                    .collect()
            })
            .collect();
        assert_eq!(
            sents,
            vec![
                vec!["He", "said", "it", "."],
                vec!["\"", "Yes", ".", "\""],
                vec!["Then"],
                vec!["Title", "here"]
            ]
        );
    }
}
