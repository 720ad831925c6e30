//! One encoding: `bpe-openai`'s vocabulary and split regex, the hand-written ASCII splitter,
//! and a whole-piece lookup.
//!
//! Almost every piece of ordinary text is a single token (on the benchmark corpus, 98% of
//! them), and tiktoken returns a piece's own id whenever the piece is in the vocabulary
//! before merging anything. One hash lookup settles those; only the others run the
//! byte-pair encoder.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use bpe_openai::Tokenizer;
use xxhash_rust::xxh3::xxh3_64;

use super::ascii_split::{self, Pattern};
use crate::dataset::config::TokenEncoding;

/// A tokenizer with its splitter and whole-piece lookup.
pub(super) struct Encoder {
    tokenizer: &'static Tokenizer,
    pattern: Pattern,
    /// xxh3 of each token's bytes -> its id. A hit is confirmed against the token's bytes, so
    /// a hash collision only sends that piece down the byte-pair path.
    whole: HashMap<u64, u32, BuildHasherDefault<PrehashedKey>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("pattern", &self.pattern)
            .field("tokens", &self.whole.len())
            .finish()
    }
}

/// Keys are already xxh3 hashes: hashing them again would only cost time.
#[derive(Debug, Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `u64` keys; this keeps any other key correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The encoder of `encoding`, built once per process on first use.
pub(super) fn encoder(encoding: TokenEncoding) -> &'static Encoder {
    static O200K: OnceLock<Encoder> = OnceLock::new();
    static CL100K: OnceLock<Encoder> = OnceLock::new();
    match encoding {
        TokenEncoding::O200kBase => {
            O200K.get_or_init(|| Encoder::new(bpe_openai::o200k_base(), Pattern::O200k))
        }
        TokenEncoding::Cl100kBase => {
            CL100K.get_or_init(|| Encoder::new(bpe_openai::cl100k_base(), Pattern::Cl100k))
        }
    }
}

impl Encoder {
    fn new(tokenizer: &'static Tokenizer, pattern: Pattern) -> Self {
        let bpe = &tokenizer.bpe;
        let n = bpe.num_tokens();
        let mut whole = HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default());
        for id in 0..n as u32 {
            whole.insert(xxh3_64(bpe.token_bytes(id)), id);
        }
        Encoder {
            tokenizer,
            pattern,
            whole,
        }
    }

    /// Calls `f` with each piece of `text`, in order.
    fn for_each_piece<'a>(&self, text: &'a str, f: impl FnMut(&'a str)) {
        if text.is_ascii() {
            ascii_split::split(text, self.pattern).for_each(f);
        } else {
            self.tokenizer.split(text).for_each(f);
        }
    }

    /// The id of `piece` if the whole piece is one token.
    fn whole_token(&self, piece: &str) -> Option<u32> {
        let id = *self.whole.get(&xxh3_64(piece.as_bytes()))?;
        (self.tokenizer.bpe.token_bytes(id) == piece.as_bytes()).then_some(id)
    }

    /// Tokens of `text` as ordinary text.
    pub(super) fn count(&self, text: &str) -> usize {
        let mut n = 0;
        self.for_each_piece(text, |piece| {
            n += match self.whole_token(piece) {
                Some(_) => 1,
                None => self.tokenizer.bpe.count(piece.as_bytes()),
            };
        });
        n
    }

    /// Token ids of `text` as ordinary text.
    pub(super) fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 4 + 1);
        self.for_each_piece(text, |piece| match self.whole_token(piece) {
            Some(id) => ids.push(id),
            None => ids.extend(self.tokenizer.bpe.encode_via_backtracking(piece.as_bytes())),
        });
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of generated ASCII text: the hand-written splitter against the regex.
    fn assert_same_pieces(text: &str) {
        for (encoding, tokenizer) in [
            (Pattern::O200k, bpe_openai::o200k_base()),
            (Pattern::Cl100k, bpe_openai::cl100k_base()),
        ] {
            let mine: Vec<&str> = ascii_split::split(text, encoding).collect();
            let regex: Vec<&str> = tokenizer.split(text).collect();
            assert_eq!(mine, regex, "{encoding:?} on {text:?}");
        }
    }

    #[test]
    fn ascii_splitter_equals_the_regex_on_generated_text() {
        use rand::{Rng, SeedableRng};
        // Short runs from an alphabet rich in the bytes the patterns treat specially.
        const ATOMS: &[&str] = &[
            "a",
            "Z",
            "hello",
            "World",
            "HTTP",
            "camelCase",
            "7",
            "2026",
            "123456",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            " \n",
            "\x0b",
            "\x0c",
            "'",
            "'s",
            "'T",
            "'re",
            "'VE",
            "'ll",
            "'d",
            "'M",
            "'x",
            ".",
            "...",
            "/",
            "//",
            "-",
            "!?",
            "\"",
            "(",
            ")",
            "_",
            "\x00",
            "\x1f",
            "\x7f",
            "~",
            "@",
            "#",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        for _ in 0..20_000 {
            let len = rng.random_range(1..12);
            let text: String = (0..len)
                .map(|_| ATOMS[rng.random_range(0..ATOMS.len())])
                .collect();
            assert_same_pieces(&text);
        }
    }

    #[test]
    fn whole_piece_lookup_agrees_with_the_vocabulary() {
        let e = encoder(TokenEncoding::O200kBase);
        assert_eq!(e.whole.len(), e.tokenizer.bpe.num_tokens());
        let id = e.whole_token(" hello").expect("a common word is one token");
        assert_eq!(e.tokenizer.bpe.token_bytes(id), b" hello");
        assert_eq!(e.whole_token(" hellohellohello"), None);
    }
}
