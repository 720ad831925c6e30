#!/usr/bin/env python3
"""Writes tokens.json: token ids and counts from Python `tiktoken` for a varied corpus, and the
OpenAI cookbook's per-example counts for a few chat examples. `core/tests/dataset_tokens.rs`
asserts that tuneloop's counts equal these exactly.

tiktoken downloads its BPE files from openaipublic.blob.core.windows.net, which this project's
machines cannot reach. The same files ship inside the tiktoken-rs crate (its `assets/`
directory), so this script points tiktoken's loader at them: it calls the official encoding
constructors of `tiktoken_ext.openai_public` (same pat_str and special tokens) with
`load_tiktoken_bpe` redirected to the local file. The official `expected_hash` is still
checked, so the local files are proven to be OpenAI's.

Usage: pip install tiktoken==0.14.0; python3 tests/vectors/gen_tokens.py [ASSETS_DIR]
(ASSETS_DIR defaults to ~/.cargo/registry/src/*/tiktoken-rs-*/assets, the newest found).
"""

import glob
import json
import os
import sys

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public


def assets_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    found = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets")))
    if not found:
        sys.exit("tiktoken-rs assets not found: run `cargo fetch` first or pass the directory")
    return found[-1]


ASSETS = assets_dir()


def local_loader(url, expected_hash=None):
    path = os.path.join(ASSETS, url.rsplit("/", 1)[-1])
    return tiktoken.load.load_tiktoken_bpe(path, expected_hash=expected_hash)


openai_public.load_tiktoken_bpe = local_loader

ENCODINGS = {
    "o200k_base": tiktoken.Encoding(**openai_public.o200k_base()),
    "cl100k_base": tiktoken.Encoding(**openai_public.cl100k_base()),
}

CORPUS = [
    "",
    "Hello, world!",
    "What is your refund policy?",
    "The refund window is 30 days. Return shipping is paid by the customer.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand carriage returns\r",
    "x" + " " * 200 + "y",
    "\n\n\n\n\n\n\n\n",
    " " * 1000,
    "Ünïcödé àccents: café, naïve, façade, Straße, ÆØÅ",
    "Русский текст: возврат возможен в течение 30 дней.",
    "日本語のテキスト：返品は30日以内に可能です。",
    "中文文本：退款期限为三十天。",
    "한국어 텍스트: 환불은 30일 이내에 가능합니다.",
    "العربية: يمكن الإرجاع خلال ثلاثين يومًا",
    "emoji 😀👍🏽🇩🇪👨‍👩‍👧‍👦 and ❤️",
    "```python\nfrom datetime import datetime\n\ndef parse_dates(rows):\n    return [datetime.strptime(r, '%Y-%m-%d') for r in rows]\n```",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * 2).collect(); println!(\"{v:?}\"); }",
    "<|endoftext|> looks special but is plain text <|fim_prefix|><|endofprompt|>",
    "numbers 1234567890 3.14159 -42 1e10 0x1F",
    "I'm sure they'll say we've done it; SHE'S RIGHT, isn't it?",
    "URL https://example.com/path?q=1&r=two#frag and email a.b@example.org",
    "+1 (415) 555-0134, 4111 1111 1111 1111",
    "mixedCASEwordsAndCamelCase snake_case_words kebab-case-words",
    "a" * 500,
    "🙂" * 50,
    "\u200b zero\u200bwidth \ufeff bom",
]

MESSAGE_EXAMPLES = [
    [
        {"role": "system", "content": "You are a helpful support assistant."},
        {"role": "user", "content": "What is your refund policy?"},
        {"role": "assistant", "content": "Refunds are available within 30 days of delivery."},
    ],
    [
        {"role": "user", "content": "日本語で答えてください。"},
        {"role": "assistant", "content": "はい、もちろんです。😀"},
    ],
    [
        {"role": "user", "content": "Hi", "name": "maria"},
        {"role": "assistant", "content": "<|endoftext|>"},
    ],
]


def cookbook_count(enc, messages):
    # The cookbook's num_tokens_from_messages, with encode_ordinary for user text.
    n = 0
    for m in messages:
        n += 3
        for key, value in m.items():
            n += len(enc.encode_ordinary(value))
            if key == "name":
                n += 1
    return n + 3


def main():
    out = {
        "generator": "tests/vectors/gen_tokens.py",
        "tiktoken": tiktoken.__version__,
        "texts": [],
        "messages": [],
    }
    for text in CORPUS:
        entry = {"text": text}
        for name, enc in ENCODINGS.items():
            ids = enc.encode_ordinary(text)
            entry[name] = {"count": len(ids), "ids": ids}
        out["texts"].append(entry)
    for messages in MESSAGE_EXAMPLES:
        entry = {"messages": messages}
        for name, enc in ENCODINGS.items():
            entry[name] = cookbook_count(enc, messages)
        out["messages"].append(entry)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokens.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(CORPUS)} texts, {len(MESSAGE_EXAMPLES)} message examples")


if __name__ == "__main__":
    main()
