//! Text folding: lower case, accents stripped, typographic punctuation made plain.
//!
//! Owns the one normal form that the matcher, the classifier and the lexicons share, so that
//! `Besançon`, `besancon` and `BESANCON` meet. It keeps, for every byte of the folded text,
//! the byte offset it came from in the original, so that callers can look back at the
//! original case (the matcher's "capitalised mid-sentence" rule needs it). No I/O.

/// A reusable folding buffer: fold many texts without allocating for each.
#[derive(Debug, Default, Clone)]
pub struct Folded {
    /// The folded text.
    pub text: String,
    /// `origin[i]` is the byte offset in the original text of the character that produced
    /// byte `i` of `text`; one extra entry at the end holds the original's length.
    pub origin: Vec<u32>,
}

impl Folded {
    /// Folds `src` into this buffer, replacing what it held.
    pub fn fold(&mut self, src: &str) {
        self.text.clear();
        self.origin.clear();
        let bytes = src.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // ASCII runs, most of a post, are copied and lowered in bulk.
            let run = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(bytes.len() - i);
            if run > 0 {
                let start = self.text.len();
                self.text.push_str(&src[i..i + run]);
                self.text[start..].make_ascii_lowercase();
                self.origin.extend(i as u32..(i + run) as u32);
                i += run;
                continue;
            }
            let c = src[i..].chars().next().expect("i is on a char boundary");
            let len = c.len_utf8();
            let start = self.text.len();
            push_folded(c, &mut self.text);
            for _ in start..self.text.len() {
                self.origin.push(i as u32);
            }
            i += len;
        }
        self.origin.push(bytes.len() as u32);
    }
}

/// Folds a whole string into a new one (for lexicons and patterns, not hot paths).
pub fn fold(src: &str) -> String {
    let mut f = Folded::default();
    f.fold(src);
    f.text
}

/// Pushes the folded form of one non-ASCII character.
fn push_folded(c: char, out: &mut String) {
    let s: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'œ' | 'Œ' => "oe",
        'æ' | 'Æ' => "ae",
        'ß' => "ss",
        // Typographic apostrophes and quotes: French posts mix them freely.
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{00B4}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{00AB}' | '\u{00BB}' => "\"",
        // Dashes and non-breaking spaces.
        '\u{2010}' | '\u{2011}' | '\u{2012}' => "-",
        '\u{2013}' | '\u{2014}' => " - ",
        '\u{00A0}' | '\u{202F}' | '\u{2009}' => " ",
        // Fullwidth @ and # are used to dodge filters.
        '\u{FF20}' => "@",
        '\u{FF03}' => "#",
        _ => {
            for l in c.to_lowercase() {
                out.push(l);
            }
            return;
        }
    };
    out.push_str(s);
}

/// True for the characters that continue a word (letters, digits; not `_`).
#[inline]
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accents_alike() {
        assert_eq!(fold("Besançon"), "besancon");
        assert_eq!(fold("BESANÇON"), "besancon");
        assert_eq!(fold("Œuvre Élysée"), "oeuvre elysee");
        assert_eq!(fold("l’été"), "l'ete");
    }

    #[test]
    fn keeps_origin_offsets_for_every_folded_byte() {
        let mut f = Folded::default();
        f.fold("Éa œ");
        assert_eq!(f.text, "ea oe");
        // É is two bytes in the original, œ too.
        assert_eq!(f.origin, vec![0, 2, 3, 4, 4, 6]);
    }

    #[test]
    fn leaves_emoji_and_other_scripts_alone() {
        assert_eq!(fold("Nul 😡"), "nul 😡");
    }
}
