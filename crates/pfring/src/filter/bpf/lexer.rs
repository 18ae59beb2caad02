//! Tokens of the pcap-filter language, each with its byte offset in the expression.

use std::net::Ipv6Addr;

use super::super::FilterError;

/// A token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A number: decimal, `0x` hexadecimal or `0` octal.
    Num(u32),
    /// A word: keyword, host name, service name, dotted IPv4 address (possibly short).
    Word(String),
    /// A word written with a leading backslash: never a keyword.
    Escaped(String),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// A MAC address.
    Mac([u8; 6]),
    /// Punctuation and operators: `( ) [ ] : / + - * % ^ & | << >> = == != < <= > >= ! && ||`.
    Punct(&'static str),
    /// End of input.
    End,
}

/// A token and its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

fn parse_num(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn is_num_word(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        return b[2..].iter().all(u8::is_ascii_hexdigit);
    }
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// `xx:xx:xx:xx:xx:xx`, `xx-xx-xx-xx-xx-xx`, `xxxx.xxxx.xxxx` or 12 hex digits... the
/// last form is not accepted (it reads as a number or name).
pub(crate) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() == 6
            && parts
                .iter()
                .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            for (o, p) in out.iter_mut().zip(&parts) {
                *o = u8::from_str_radix(p, 16).ok()?;
            }
            return Some(out);
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 4 && p.bytes().all(|c| c.is_ascii_hexdigit()))
    {
        for (i, p) in parts.iter().enumerate() {
            let v = u16::from_str_radix(p, 16).ok()?;
            out[2 * i] = (v >> 8) as u8;
            out[2 * i + 1] = v as u8;
        }
        return Some(out);
    }
    None
}

fn word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b':')
}

/// Splits `src` into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let pos = i;
        let escaped = c == b'\\';
        if escaped || c.is_ascii_alphanumeric() || c == b':' || c == b'_' {
            let start = if escaped { i + 1 } else { i };
            let mut j = start;
            while j < b.len() && word_char(b[j]) {
                j += 1;
            }
            // A word ends before a trailing '-' or '.' that cannot belong to it.
            while j > start && matches!(b[j - 1], b'-') {
                j -= 1;
            }
            let mut w = &src[start..j];
            if w.is_empty() {
                return Err(FilterError::Syntax {
                    pos,
                    msg: "expected a name after `\\`".into(),
                });
            }
            if w.contains(':') {
                if let Ok(a) = w.parse::<Ipv6Addr>() {
                    out.push(Token {
                        tok: Tok::V6(a),
                        pos,
                    });
                    i = j;
                    continue;
                }
                if let Some(m) = parse_mac(w) {
                    out.push(Token {
                        tok: Tok::Mac(m),
                        pos,
                    });
                    i = j;
                    continue;
                }
                // `2:2` inside brackets: the word stops at the colon.
                let cut = w.find(':').unwrap_or(w.len());
                w = &w[..cut];
                j = start + cut;
                if w.is_empty() {
                    out.push(Token {
                        tok: Tok::Punct(":"),
                        pos,
                    });
                    i = pos + 1;
                    continue;
                }
            }
            let tok = if escaped {
                Tok::Escaped(w.to_string())
            } else if is_num_word(w) {
                match parse_num(w) {
                    Some(n) => Tok::Num(n),
                    None => {
                        return Err(FilterError::Syntax {
                            pos,
                            msg: format!("number `{w}` out of range"),
                        });
                    }
                }
            } else if let Some(m) = parse_mac(w) {
                Tok::Mac(m)
            } else {
                Tok::Word(w.to_string())
            };
            out.push(Token { tok, pos });
            i = j;
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        let p: &'static str = match (c, next) {
            (b'<', b'<') => "<<",
            (b'>', b'>') => ">>",
            (b'=', b'=') => "==",
            (b'!', b'=') => "!=",
            (b'<', b'=') => "<=",
            (b'>', b'=') => ">=",
            (b'&', b'&') => "&&",
            (b'|', b'|') => "||",
            _ => match c {
                b'(' => "(",
                b')' => ")",
                b'[' => "[",
                b']' => "]",
                b'/' => "/",
                b'+' => "+",
                b'-' => "-",
                b'*' => "*",
                b'%' => "%",
                b'^' => "^",
                b'&' => "&",
                b'|' => "|",
                b'=' => "=",
                b'<' => "<",
                b'>' => ">",
                b'!' => "!",
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(FilterError::Syntax {
                        pos,
                        msg: format!("unexpected character `{ch}`"),
                    });
                }
            },
        };
        out.push(Token {
            tok: Tok::Punct(p),
            pos,
        });
        i += p.len();
    }
    out.push(Token {
        tok: Tok::End,
        pos: src.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_addresses() {
        assert_eq!(
            kinds("tcp[2:2] >= 0x10"),
            vec![
                Tok::Word("tcp".into()),
                Tok::Punct("["),
                Tok::Num(2),
                Tok::Punct(":"),
                Tok::Num(2),
                Tok::Punct("]"),
                Tok::Punct(">="),
                Tok::Num(16),
                Tok::End
            ]
        );
        assert_eq!(kinds("::1")[0], Tok::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(kinds("1:2:3:4:5:6")[0], Tok::Mac([1, 2, 3, 4, 5, 6]));
        assert_eq!(kinds("10.1.2.3")[0], Tok::Word("10.1.2.3".into()));
        assert_eq!(kinds("\\tcp")[0], Tok::Escaped("tcp".into()));
        assert_eq!(kinds("010")[0], Tok::Num(8));
        assert_eq!(
            lex("a $").unwrap_err().to_string(),
            "unexpected character `$` at 2"
        );
    }
}
