//! HTML descriptions to plain lines.
//!
//! Google's web UI stores descriptions as HTML (`where:park<br>distance=10000`, `<p>…</p>`,
//! `<ul><li>`, `<a href>`, `&nbsp;`, `&amp;`; see `GOOGLE_APIS.md`), while the API and other
//! clients store plain text. A person sees the same lines either way, so both must give the same
//! datapoints. The rule, chosen so that plain text is never mangled:
//!
//! 1. No `<` and no `&`: plain text, returned as it is (the fast path, no allocation).
//! 2. At least one *recognised* tag (`<br>`, `<p>`, `<div>`, `<span>`, `<b>`, `<a …>`, `<li>`, …;
//!    opening, closing or self-closing, any case): HTML. Every tag-shaped token is removed;
//!    block-level tags and `<br>` become line breaks, inline tags vanish, comments vanish, then
//!    entities decode in the text between tags (so `&lt;b&gt;` stays the text `<b>`). Raw newlines
//!    stay line breaks too, since descriptions edited both ways mix them with tags.
//! 3. Otherwise, if it holds a well-formed entity (`&amp;`, `&#38;`, `&#x26;`): entities decode,
//!    and `<` stays text.
//! 4. Otherwise plain text: `note: a<b` or `R&D` are left alone.
//!
//! In cases 2 and 3 a non-breaking space (`&nbsp;`, U+00A0) becomes an ordinary space. Text that
//! happens to contain a recognised tag, such as `a<b>c`, is read as HTML: that is what Google's
//! own UI would display.

use std::borrow::Cow;

/// The description as plain text lines, following the rule in the module documentation.
pub fn description_text(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'<' || b == b'&') {
        return Cow::Borrowed(raw);
    }
    if has_recognised_tag(raw) {
        return Cow::Owned(strip_tags(raw));
    }
    if has_entity(raw) {
        return Cow::Owned(nbsp_to_space(htmlize::unescape(raw).into_owned()));
    }
    Cow::Borrowed(raw)
}

/// What a tag does to the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// Starts a new line (`<br>`, `<p>`, `</div>`, `<li>`, …).
    Block,
    /// Vanishes without a trace (`<b>`, `<span>`, `<a href>`, …).
    Inline,
    /// Tag-shaped but unknown; removed in HTML mode, does not make a text HTML.
    Unknown,
}

/// A tag found at some `<`: what it is and the index just after its `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    kind: TagKind,
    end: usize,
}

fn classify(name: &[u8]) -> TagKind {
    let mut buf = [0u8; 10];
    if name.len() > buf.len() {
        return TagKind::Unknown;
    }
    for (dst, src) in buf.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    match &buf[..name.len()] {
        b"br" | b"p" | b"div" | b"li" | b"ul" | b"ol" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5"
        | b"h6" | b"blockquote" | b"pre" | b"hr" | b"table" | b"tr" | b"td" | b"th" | b"tbody"
        | b"thead" | b"tfoot" | b"dl" | b"dt" | b"dd" | b"section" | b"article" | b"header"
        | b"footer" | b"html" | b"body" => TagKind::Block,
        b"span" | b"b" | b"i" | b"u" | b"s" | b"em" | b"strong" | b"a" | b"font" | b"small"
        | b"big" | b"sub" | b"sup" | b"strike" | b"del" | b"ins" | b"mark" | b"code" | b"img"
        | b"wbr" => TagKind::Inline,
        // Google wraps some descriptions written through its apps in this.
        b"html-blob" => TagKind::Inline,
        _ => TagKind::Unknown,
    }
}

/// Parses a tag starting at `b[start] == b'<'`: `<name …>`, `</name>`, `<name/>` or a comment.
/// `None` when the `<` is just text (`a<b`, `x < y`, `<3`).
fn parse_tag(b: &[u8], start: usize) -> Option<Tag> {
    let mut i = start + 1;
    if b[i..].starts_with(b"!--") {
        let close = find(b, i + 3, b"-->")?;
        return Some(Tag {
            kind: TagKind::Inline,
            end: close + 3,
        });
    }
    if b.get(i) == Some(&b'/') {
        i += 1;
    }
    let name_start = i;
    if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b':')
    {
        i += 1;
    }
    let kind = classify(&b[name_start..i]);
    match b.get(i) {
        Some(b'>' | b'/') => {}
        Some(c) if c.is_ascii_whitespace() => {}
        _ => return None,
    }
    // Attributes: skip to the closing `>`, ignoring any `>` inside quotes. A line break or a
    // second `<` first means this was text (`a<b` at the end of a plain line), not a tag.
    let mut quote = None;
    while let Some(&c) = b.get(i) {
        match (quote, c) {
            (_, b'\n' | b'\r') | (None, b'<') => return None,
            (None, b'>') => return Some(Tag { kind, end: i + 1 }),
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn has_recognised_tag(raw: &str) -> bool {
    let b = raw.as_bytes();
    (0..b.len())
        .any(|i| b[i] == b'<' && parse_tag(b, i).is_some_and(|t| t.kind != TagKind::Unknown))
}

/// Whether `raw` holds `&name;`, `&#digits;` or `&#xhex;`.
fn has_entity(raw: &str) -> bool {
    let b = raw.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'&').any(|i| {
        let rest = &b[i + 1..];
        let (body, digit): (&[u8], fn(&u8) -> bool) = match rest {
            [b'#', b'x' | b'X', body @ ..] => (body, u8::is_ascii_hexdigit),
            [b'#', body @ ..] => (body, u8::is_ascii_digit),
            body => (body, u8::is_ascii_alphanumeric),
        };
        let n = body.iter().take_while(|c| digit(c)).count();
        n > 0 && body.get(n) == Some(&b';')
    })
}

fn strip_tags(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let (mut i, mut text_start) = (0, 0);
    while i < b.len() {
        if b[i] == b'<' {
            if let Some(tag) = parse_tag(b, i) {
                push_text(&mut out, &raw[text_start..i]);
                if tag.kind == TagKind::Block {
                    out.push('\n');
                }
                i = tag.end;
                text_start = i;
                continue;
            }
        }
        i += 1;
    }
    push_text(&mut out, &raw[text_start..]);
    out
}

/// Appends text found between tags, entities decoded and non-breaking spaces made plain.
fn push_text(out: &mut String, text: &str) {
    // Byte scans: these segments are short, where a plain loop beats a memchr call.
    if !text.bytes().any(|b| b == b'&') {
        return push_without_nbsp(out, text);
    }
    push_without_nbsp(out, &htmlize::unescape(text));
}

/// Copies `text`, turning each U+00A0 (bytes C2 A0) into a space.
fn push_without_nbsp(out: &mut String, text: &str) {
    let b = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i + 1 < b.len() {
        if b[i] == 0xC2 && b[i + 1] == 0xA0 {
            out.push_str(&text[start..i]);
            out.push(' ');
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[start..]);
}

fn nbsp_to_space(text: String) -> String {
    if text.contains('\u{a0}') {
        text.replace('\u{a0}', " ")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_shapes_become_lines() {
        let cases: &[(&str, &str)] = &[
            ("where:park<br>distance=10000", "where:park\ndistance=10000"),
            (
                "where:park<br/>distance=10000",
                "where:park\ndistance=10000",
            ),
            (
                "where:park<BR />distance=10000",
                "where:park\ndistance=10000",
            ),
            (
                "<p>where:park</p><p>distance=10000</p>",
                "\nwhere:park\n\ndistance=10000\n",
            ),
            (
                "<div>where:park</div><div>distance=10000</div>",
                "\nwhere:park\n\ndistance=10000\n",
            ),
            ("<ul><li>a:b</li><li>c=1</li></ul>", "\n\na:b\n\nc=1\n\n"),
            ("<b>where</b>:<i>park</i>", "where:park"),
            ("<span style=\"color: red\">where:park</span>", "where:park"),
            (
                "zoom: <a href=\"https://z.us/j/1?a=1&amp;b=>\">https://z.us/j/1</a>",
                "zoom: https://z.us/j/1",
            ),
            ("a&nbsp;b&amp;c&lt;d&gt;&#65;&#x42;&quot;", "a b&c<d>AB\""),
            ("<p>&lt;b&gt;</p>", "\n<b>\n"),
            ("<p>note: a<b</p>", "\nnote: a<b\n"),
            ("<p>x</p><!-- <br> -->y", "\nx\ny"),
            ("<custom-tag>x</custom-tag><br>y", "x\ny"),
            ("<html-blob>where:park</html-blob>", "where:park"),
            ("<p>line\nnext</p>", "\nline\nnext\n"),
            ("<b>\u{a0}a\u{a0}\u{a0}é\u{a0}</b>", " a  é "),
            ("<b>&nbsp;</b>¢&nbsp;", " ¢ "),
        ];
        for (html, text) in cases {
            assert_eq!(description_text(html), *text, "{html:?}");
        }
    }

    #[test]
    fn plain_text_is_never_mangled() {
        let cases = [
            "note: a<b",
            "x < y and y > z",
            "love <3",
            "R&D: yes",
            "salt&pepper",
            "a <custom> tag",
            "where:park\ndistance=10000",
            "unclosed <br",
            "note: a<b\nx: 1 < 2 > 0",
            "a <b x < y>",
        ];
        for text in cases {
            assert!(
                matches!(description_text(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn entities_alone_decode_without_touching_angle_brackets() {
        assert_eq!(description_text("fish &amp; chips"), "fish & chips");
        assert_eq!(description_text("a<b &#38; c&nbsp;d"), "a<b & c d");
        assert_eq!(description_text("&#x26;"), "&");
    }
}
