//! HTML as plain text, for the text of feed items and Mastodon statuses: tags removed (the
//! content of `script` and `style` with them), block ends as spaces, entities decoded,
//! white space folded.

/// The text of an HTML fragment.
pub fn to_text(html: &str) -> String {
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
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &tag[close + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            // Skip to the end of the element, its content is not text.
            let end = format!("</{name}");
            match find_ascii_case_insensitive(rest, &end) {
                Some(i) => {
                    rest = &rest[i..];
                    rest = rest.find('>').map_or("", |j| &rest[j + 1..]);
                }
                None => rest = "",
            }
        }
        // Block and line breaks separate words; inline tags (`<b>`, `<a>`) do not.
        if matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "li"
                | "ul"
                | "ol"
                | "tr"
                | "td"
                | "th"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
                | "section"
                | "article"
                | "header"
                | "footer"
                | "img"
                | "hr"
        ) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    let decoded = html_escape::decode_html_entities(&out);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
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
