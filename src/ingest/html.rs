//! HTML as plain text, for the text of feed items and Mastodon statuses: tags removed (the
//! content of `script` and `style` with them), block ends as spaces, entities decoded,
//! white space folded.

/// Tags that separate words (block and line breaks); inline ones (`<b>`, `<a>`) do not.
const BREAKS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "img",
    "hr",
];

/// The text of an HTML fragment.
pub fn to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return fold_spaces(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag = &rest[open + 1..];
        let Some(close) = tag.find('>') else {
            // A lone `<` is text (`a < b`).
            out.push('<');
            rest = tag;
            continue;
        };
        let body = tag.trim_start_matches('/');
        let name_len = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &body[..name_len];
        rest = &tag[close + 1..];
        let skipped = ["script", "style"]
            .into_iter()
            .find(|s| name.eq_ignore_ascii_case(s));
        if let (Some(skipped), false) = (skipped, tag.starts_with('/')) {
            // Skip to the end of the element: its content is not text.
            match find_ascii_case_insensitive(rest, &format!("</{skipped}")) {
                Some(i) => {
                    rest = &rest[i..];
                    rest = rest.find('>').map_or("", |j| &rest[j + 1..]);
                }
                None => rest = "",
            }
        }
        if BREAKS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    fold_spaces(&html_escape::decode_html_entities(&out))
}

/// `text` with every run of white space as one space, trimmed.
fn fold_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_entities_are_decoded_and_blocks_separate_words() {
        assert_eq!(
            to_text("<p>La mairie d&#39;Angers <b>ferme</b>&nbsp;la piscine&hellip;</p><p>Encore&nbsp;!</p>"),
            "La mairie d'Angers ferme la piscine… Encore !"
        );
        assert_eq!(
            to_text("<script>var x = '<p>';</script>Texte<br/>suite <style>p{}</style>fin"),
            "Texte suite fin"
        );
        assert_eq!(to_text("a < b et c &gt; d"), "a < b et c > d");
        assert_eq!(
            to_text("&eacute;t&eacute; &laquo; chaud &raquo; &#x2014; &amp;"),
            "été « chaud » — &"
        );
    }
}
