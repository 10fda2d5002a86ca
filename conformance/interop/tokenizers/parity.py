"""Tokenizer parity between gort's tokenizer package and Hugging Face.

Nothing is downloaded: the reference tokenizers are trained here by Hugging
Face `tokenizers` on a corpus this script generates.

    python parity.py gen DIR [N]  # reference tokenizers + DIR/cases.jsonl (HF ids, offsets of N strings)
    GORT_TOKENIZER_PARITY=DIR go test ./tokenizer -run Parity
                                  # gort must match; it also writes DIR/gort/*.json
                                  # (tokenizers trained by gort) and DIR/gort/cases.jsonl
    python parity.py check DIR    # HF loads gort's tokenizers and must encode as gort did
    python parity.py testdata tokenizer/testdata
                                  # regenerates unigram-tiny.json and its cases for the Go unit tests

run.sh does the three steps. Offsets are in characters (code points), as the
Python binding reports them; the Go test converts with tokenizer.CharOffsets.
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers.implementations import BertWordPieceTokenizer, ByteLevelBPETokenizer, CharBPETokenizer

WORDS = """the of and to in is was for that on with as by at from his her are were be this which an or had
not but have it they you their one all also has been would there who more when time new first can other into
only after over some most school year these up state than may two world people its during made about city such
between university under where national many used while years known later series since three team found part
don't it's we'll they're I've she'd you're can't won't isn't LET'S O'Neil rock'n'roll""".split()
ACCENTS = "café naïve Zürich São Paulo crème brûlée façade jalapeño Ångström Øresund Łódź Dvořák résumé coöperate Ñandú İstanbul ıi straße ǅemal ﬁnancial Ǆ ǈ".split()
CJK = ["中文分词", "日本語のテキスト", "ひらがな", "カタカナ", "한국어 문장", "漢字", "𠀀𠀁", "北京大学", "东京", "ｆｕｌｌｗｉｄｔｈ", "〇一二三"]
EMOJI = ["😀", "👍🏽", "👩‍👩‍👧‍👦", "🇫🇷", "❤️", "🥰", "🫠", "✨", "🧑🏿‍💻", "🏳️‍🌈", "1️⃣", "☕"]
SCRIPTS = ["Привет мир", "Ελληνικά γράμματα", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "ქართული", "Հայերեն", "ᚠᛇᚻ", "ⲁⲃⲅ", "ꓐꓑ"]
PUNCT = list(".,;:!?¿¡…—–-()[]{}<>\"'«»„“”‘’/\\|@#$%^&*_+=~`·•§¶†‡※") + ["...", "?!", "--", "'s", "'ll", "'re"]
NUMBERS = ["123", "3.14159", "1,234,567", "٣٤٥", "१२३", "½", "²³", "Ⅻ", "10⁻⁶", "0x1F", "1e-9", "2024-01-31", "07:45"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", " \t ", "\n\n", "\u200b", "\u2028", "\x0b", "\x0c", "\x85"]
CONTROL = ["\x00", "\x07", "\x1b", "\ufeff", "\u200d", "\u00ad", "\ufffd", "\ue000", "\x7f"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0335", "q\u0307\u0323", "\u0301x", "ᄀ\u1161\u11a8", "i\u0307"]
SPECIAL = ["[MASK]", "[CLS]", "[SEP]", "<|endoftext|>", "[PAD]", "<s>", "</s>", "<mask>", "NewWord", "newword", "單詞", " x ", "ab單詞"]
# What SentencePiece's nmt_nfkc charsmap rewrites: full- and half-width forms,
# compatibility characters, clusters of a letter and marks (mapped whole
# under 6 bytes), deleted controls, prepended concatenation marks.
SPM = ["ｆｕｌｌ\u3000ｗｉｄｔｈ", "Ａ\u0301", "ａ\u0301\u0323", "\x0b\x0bx", "ﬁﬂ", "①②", "㍿", "ｶﾞｷﾞｸ", "\u00a0\u00a0y", "¼™Ⅳ",
       "x\u200dy", "e\u0301\u0301", "\u0600\u0661", "A\u0903", "\x7f\x7fz", "Å", "ǈ\u0301", "\u1e9b\u0323", "ｱ\uff9e", "〜～"]
CODE = ["def f(x): return x**2", "if (a && b) { c++; }", "https://example.com/a?b=c&d=e", "user@example.org", "#include <stdio.h>", "SELECT * FROM t;"]


def piece(rng):
    k = rng.random()
    if k < 0.40:
        w = rng.choice(WORDS)
        r = rng.random()
        if r < 0.1:
            w = w.upper()
        elif r < 0.25:
            w = w.capitalize()
        return w
    pools = [ACCENTS, CJK, EMOJI, SCRIPTS, PUNCT, NUMBERS, SPACES, CONTROL, COMBINING, SPECIAL, CODE, SPM]
    weights = [10, 8, 7, 6, 10, 6, 10, 2, 3, 1, 2, 3]
    return rng.choice(rng.choices(pools, weights)[0])


def sentence(rng, n=None):
    n = n or rng.randint(1, 14)
    out = []
    for _ in range(n):
        out.append(piece(rng))
        r = rng.random()
        out.append(" " if r < 0.75 else ("" if r < 0.9 else rng.choice(SPACES)))
    s = "".join(out)
    if rng.random() < 0.2:
        s = s.strip()
    if rng.random() < 0.05:
        s = rng.choice(WORDS) * rng.randint(10, 60)  # very long word
    return s


def corpus(seed, n):
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(n)]


def random_unicode(rng):
    """A string of code points drawn from all planes, surrogates excluded."""
    out = []
    for _ in range(rng.randint(1, 20)):
        r = rng.random()
        if r < 0.3:
            cp = rng.randint(0x20, 0x2FF)
        elif r < 0.8:
            cp = rng.randint(0x300, 0xFFFF)
        else:
            cp = rng.randint(0x10000, 0x10FFFF)
        if 0xD800 <= cp < 0xE000:
            cp = 0x20
        out.append(chr(cp))
        if rng.random() < 0.2:
            out.append(" ")
    return "".join(out)


def strings(seed, n):
    rng = random.Random(seed)
    out = ["", " ", "  ", "\t\n", "a", "[UNK]", "hello world", "Hello, World!", "x" * 150, "ab" * 120]
    while len(out) < n:
        out.append(random_unicode(rng) if rng.random() < 0.15 else sentence(rng))
    return out


def reference_tokenizers(train):
    toks = {}
    bert = BertWordPieceTokenizer(lowercase=True)
    bert.train_from_iterator(train, vocab_size=3000, min_frequency=2, limit_alphabet=500,
                             special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    toks["bert-uncased"] = bert._tokenizer
    cased = BertWordPieceTokenizer(lowercase=False, strip_accents=False, handle_chinese_chars=True)
    cased.train_from_iterator(train, vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    toks["bert-cased"] = cased._tokenizer
    gpt2 = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    gpt2.train_from_iterator(train, vocab_size=3000, min_frequency=2, special_tokens=["<|endoftext|>"])
    toks["gpt2"] = gpt2._tokenizer
    rob = ByteLevelBPETokenizer(add_prefix_space=True, trim_offsets=True)
    rob.train_from_iterator(train, vocab_size=1500, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    t = rob._tokenizer
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")),
                                                    trim_offsets=True, add_prefix_space=True)
    toks["roberta"] = t
    # Plain BPE: end-of-word suffix with an unknown token (CharBPE), and a
    # continuing-subword prefix with fused unknowns.
    char = CharBPETokenizer(suffix="</w>", unk_token="<unk>")
    char.train_from_iterator(train, vocab_size=1500, special_tokens=["<unk>"], limit_alphabet=300)
    toks["char-bpe"] = char._tokenizer
    pre = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", fuse_unk=True))
    pre.normalizer = normalizers.Lowercase()
    pre.pre_tokenizer = pre_tokenizers.Whitespace()
    pre.decoder = decoders.WordPiece()
    pre.train_from_iterator(train, trainers.BpeTrainer(vocab_size=1500, special_tokens=["[UNK]"], continuing_subword_prefix="##",
                                                       limit_alphabet=300, show_progress=False))
    toks["prefix-bpe"] = pre
    # SentencePiece-style (Llama 2): Prepend/Replace normalizers, no
    # pre-tokenizer, BPE with byte fallback, Replace/ByteFallback/Fuse/Strip
    # decoders; and the same vocabulary with Metaspace.
    sp = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    sp.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    sp.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    sp.train_from_iterator([l.split("\n")[0][:200] for l in train], trainers.BpeTrainer(
        vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=150, show_progress=False))
    d = json.loads(sp.to_str())
    for i in range(256):
        d["model"]["vocab"].setdefault("<0x%02X>" % i, len(d["model"]["vocab"]))
    toks["llama-like"] = Tokenizer.from_str(json.dumps(d))
    ms = Tokenizer.from_str(json.dumps(d))
    ms.normalizer = normalizers.Strip()
    ms.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    ms.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
    toks["metaspace"] = ms
    wl = Tokenizer(models.WordLevel(unk_token="<unk>"))
    wl.normalizer = normalizers.NFKC()
    wl.pre_tokenizer = pre_tokenizers.Whitespace()
    wl.train_from_iterator(train, trainers.WordLevelTrainer(vocab_size=800, special_tokens=["<unk>"], show_progress=False))
    toks["wordlevel"] = wl
    # A few other components on the trained BERT vocab.
    w = Tokenizer.from_str(bert._tokenizer.to_str())
    w.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    w.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.Punctuation()])
    toks["wordpiece-nfkc-whitespace"] = w
    # Added tokens: lstrip/rstrip, single_word, normalized.
    r = Tokenizer.from_str(t.to_str())
    r.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    r.add_tokens([AddedToken("NewWord", normalized=True), AddedToken("單詞", single_word=True), AddedToken(" x ", rstrip=True)])
    toks["roberta-added"] = r
    b = Tokenizer.from_str(bert._tokenizer.to_str())
    b.add_tokens([AddedToken("NewWord", normalized=True), AddedToken("單詞", single_word=True, normalized=False)])
    toks["bert-added"] = b
    # Truncation and padding.
    for name, trunc, pad in [
        ("bert-trunc-longest", dict(max_length=12), dict(length=20, pad_id=0, pad_token="[PAD]")),
        ("bert-trunc-first-left", dict(max_length=10, strategy="only_first", direction="left"), dict(pad_to_multiple_of=8, direction="left")),
        ("bert-trunc-second", dict(max_length=14, strategy="only_second"), None),
        ("gpt2-trunc", dict(max_length=7), dict(length=9, pad_id=0, pad_token="<|endoftext|>", pad_type_id=1)),
    ]:
        y = Tokenizer.from_str((bert if name.startswith("bert") else gpt2)._tokenizer.to_str())
        y.enable_truncation(**trunc)
        if pad:
            y.enable_padding(**pad)
        toks[name] = y
    for name, behavior, norm in [("wordpiece-punct-previous", "merged_with_previous", normalizers.NFKD()),
                                 ("wordpiece-punct-next", "merged_with_next", normalizers.NFC()),
                                 ("wordpiece-punct-contiguous", "contiguous", normalizers.Lowercase())]:
        z = Tokenizer.from_str(bert._tokenizer.to_str())
        z.normalizer = normalizers.Sequence([norm, normalizers.StripAccents(), normalizers.Lowercase()])
        z.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior=behavior),
                                                   pre_tokenizers.Digits(individual_digits=False)])
        toks[name] = z
    x = Tokenizer.from_str(bert._tokenizer.to_str())
    x.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.NFC()])
    x.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    x.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                     special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    toks["wordpiece-nfd-template"] = x
    return toks


def train_spm(train, prefix, **kw):
    """A SentencePiece Unigram model trained on train, as XLM-R's and T5's were
    (nmt_nfkc normalization unless kw says otherwise)."""
    import sentencepiece as spm
    args = dict(model_type="unigram", vocab_size=1000, character_coverage=0.9995, normalization_rule_name="nmt_nfkc",
                minloglevel=2, num_threads=1, seed_sentencepiece_size=100000)
    args.update(kw)
    spm.SentencePieceTrainer.train(sentence_iterator=iter([l.replace("\n", " ") for l in train]), model_prefix=prefix, **args)
    return prefix + ".model"


def spm_converted(kind, model, **attrs):
    """tokenizer.json for a SentencePiece model, through transformers' converters
    (the path AutoTokenizer takes for XLM-R and T5 checkpoints)."""
    import types
    from transformers.convert_slow_tokenizer import AlbertConverter, SpmConverter, T5Converter, XLMRobertaConverter, import_protobuf
    if kind == "generic":
        proto = import_protobuf().ModelProto()
        with open(model, "rb") as f:
            proto.ParseFromString(f.read())
        return SpmConverter.build_tokenizer_from_spm_proto(proto, [(p.piece, p.score) for p in proto.pieces], legacy=True)
    orig = types.SimpleNamespace(vocab_file=model, legacy=True, add_prefix_space=True, **attrs)
    return {"xlmr": XLMRobertaConverter, "t5": T5Converter, "albert": AlbertConverter}[kind](orig).converted()


def unigram_tokenizers(train, out):
    """Unigram tokenizers: trained by Hugging Face, and SentencePiece models
    converted as transformers converts XLM-R's, T5's and others'."""
    toks = {}
    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    uni.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    uni.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    uni.train_from_iterator(train, trainers.UnigramTrainer(vocab_size=1500, special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
                                                           unk_token="<unk>", show_progress=False))
    uni.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 2), ("</s>", 3)])
    toks["unigram"] = uni
    # Byte fallback: <0xXX> pieces below every other score, Llama-style decoders.
    d = json.loads(uni.to_str())
    low = min(s for _, s in d["model"]["vocab"]) - 1
    d["model"]["vocab"] += [["<0x%02X>" % i, low] for i in range(256)]
    d["model"]["byte_fallback"] = True
    d["normalizer"] = None
    d["decoder"] = {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    toks["unigram-bytefallback"] = Tokenizer.from_str(json.dumps(d))
    xlmr = train_spm(train, os.path.join(out, "spm-xlmr"))
    toks["xlmr-spm"] = spm_converted("xlmr", xlmr, convert_tokens_to_ids=lambda t: {"<s>": 0, "</s>": 2}[t])
    t5 = train_spm(train, os.path.join(out, "spm-t5"), vocab_size=800, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    toks["t5-spm"] = spm_converted("t5", t5, _extra_ids=10, convert_tokens_to_ids=lambda t: {"</s>": 1}[t])
    # ALBERT: "``" and "''" to '"', NFKD, accents stripped, lowercase, then the charsmap.
    albert = train_spm(train, os.path.join(out, "spm-albert"), vocab_size=900, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
                       control_symbols=["[CLS]", "[SEP]", "[MASK]"])
    toks["albert-spm"] = spm_converted("albert", albert, keep_accents=False, do_lower_case=True,
                                       convert_tokens_to_ids=lambda t: {"[CLS]": 2, "[SEP]": 3}[t])
    fb = train_spm(train, os.path.join(out, "spm-bytefallback"), vocab_size=1000, byte_fallback=True)
    toks["spm-generic-bytefallback"] = spm_converted("generic", fb)
    return toks


# SentencePiece normalization rules for the small checked-in tokenizer
# (tokenizer/testdata/unigram-tiny.json): source and target code points in
# hex. nmt_nfkc's charsmap is 240 KB; these few rules keep it small while
# exercising one-to-one, one-to-many, many-to-one, deleted and grapheme-wide
# mappings.
TINY_RULES = [("FF21", "41"), ("FF22", "42"), ("FF41", "61"), ("FF42", "62"), ("FF11", "31"), ("FB01", "66 69"),
              ("00BD", "31 2044 32"), ("216B", "58 49 49"), ("65 301", "E9"), ("41 30A", "C5"), ("3000", "20"),
              ("A0", "20"), ("B", ""), ("7F", ""), ("200B", ""), ("2028", "20"), ("FF41 301", "E1"), ("9", "20")]


def testdata(out_dir):
    """Writes tokenizer/testdata/unigram-tiny.json, an XLM-R-style tokenizer
    from a small SentencePiece model with TINY_RULES, and
    unigram-tiny-cases.jsonl, Hugging Face's encodings of 126 strings."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "rules.tsv")
        with open(rules, "w") as f:
            for src, dst in TINY_RULES:
                f.write(src + "\t" + dst + "\n")
        model = train_spm(corpus(1, 1500), os.path.join(tmp, "tiny"), vocab_size=400, character_coverage=0.98, normalization_rule_name="",
                          normalization_rule_tsv=rules, hard_vocab_limit=False)
        tok = spm_converted("xlmr", model, convert_tokens_to_ids=lambda t: {"<s>": 0, "</s>": 2}[t])
    tok.save(os.path.join(out_dir, "unigram-tiny.json"))
    rng = random.Random(7)
    extra = ["ＡＢａｂ１", "ﬁne ½ Ⅻ", "e\u0301 A\u030a ａ\u0301 x", "\x0ba\x0b\x0bb\x7f", "a\u3000\u00a0 b\u200b", "\t\tx  y   z "]
    texts = extra + [rng.choice(extra) + " " + sentence(rng, rng.randint(1, 5)) for _ in range(50)] + strings(11, 80)[10:]
    with open(os.path.join(out_dir, "unigram-tiny-cases.jsonl"), "w", encoding="utf-8") as f:
        for a in texts:
            c = encode_case("unigram-tiny", tok, a, None)
            c = {k: c[k] for k in ("a", "ids", "tokens", "offsets", "decode", "decode_all")}
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


def encode_case(name, tok, a, b):
    try:
        e = tok.encode(a, b) if b is not None else tok.encode(a)
    except Exception:  # truncation that cannot be met
        return {"tok": name, "a": a, "b": b, "error": True}
    return {"tok": name, "a": a, "b": b, "ids": e.ids, "tokens": e.tokens, "type_ids": e.type_ids, "offsets": [list(o) for o in e.offsets],
            "special": e.special_tokens_mask, "attention": e.attention_mask,
            "decode": tok.decode(e.ids, skip_special_tokens=True), "decode_all": tok.decode(e.ids, skip_special_tokens=False)}


def batch_case(name, tok, texts, pairs):
    inputs = list(zip(texts, pairs)) if pairs else texts
    encs = tok.encode_batch(inputs)
    return {"tok": name, "batch": texts, "pairs": pairs, "ids": [e.ids for e in encs],
            "attention": [e.attention_mask for e in encs], "type_ids": [e.type_ids for e in encs]}


def gen(out, nstrings=3000):
    os.makedirs(out, exist_ok=True)
    train = corpus(1, 4000)
    with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8") as f:
        for line in train:
            f.write(line.replace("\n", " ").replace("\r", " ").replace("\x85", " ").replace("\u2028", " ") + "\n")
    toks = reference_tokenizers(train)
    toks.update(unigram_tokenizers(train, out))
    # vocab.txt for FromVocabTxt, checked against transformers' BertTokenizerFast.
    from transformers import BertTokenizer
    vocab = toks["bert-uncased"].get_vocab()
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
            f.write(t + "\n")
    toks["vocab-txt"] = BertTokenizer.from_pretrained(out, do_lower_case=True).backend_tokenizer
    for name, t in toks.items():
        t.save(os.path.join(out, name + ".json"))
    texts = strings(2, nstrings)
    rng = random.Random(3)
    n = 0
    with open(os.path.join(out, "cases.jsonl"), "w", encoding="utf-8") as f:
        for name, t in toks.items():
            for a in texts:
                f.write(json.dumps(encode_case(name, t, a, None), ensure_ascii=False) + "\n")
                n += 1
            for _ in range(500):
                f.write(json.dumps(encode_case(name, t, rng.choice(texts), rng.choice(texts)), ensure_ascii=False) + "\n")
                n += 1
        # Batches padded to their longest member.
        for name in ["bert-uncased", "gpt2", "roberta"]:
            t = Tokenizer.from_str(toks[name].to_str())
            t.enable_padding(direction="left" if name == "gpt2" else "right", pad_id=1, pad_token="[PAD]")
            for i in range(100):
                k = rng.randint(1, 9)
                batch = [rng.choice(texts) for _ in range(k)]
                pairs = [rng.choice(texts) for _ in range(k)] if i % 2 else None
                f.write(json.dumps(batch_case(name, t, batch, pairs), ensure_ascii=False) + "\n")
                n += 1
    print(f"gen: {len(toks)} tokenizers, {len(texts)} strings, {n} cases in {out}")


def check(out):
    d = os.path.join(out, "gort")
    bad = n = 0
    toks = {}
    with open(os.path.join(d, "cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if c["tok"] not in toks:
                toks[c["tok"]] = Tokenizer.from_file(os.path.join(d, c["tok"] + ".json"))
            want = encode_case(c["tok"], toks[c["tok"]], c["a"], c["b"])
            n += 1
            diff = [k for k in ("error", "ids", "type_ids", "offsets", "special", "attention", "decode", "decode_all") if want.get(k, False if k == "error" else None) != c.get(k, False if k == "error" else None)]
            if diff:
                bad += 1
                if bad <= 10:
                    print("mismatch", c["tok"], repr(c["a"]), repr(c["b"]), diff, "hf:", want["ids"], "gort:", c["ids"])
    print(f"check: {len(toks)} gort-trained tokenizers, {n} cases, {bad} mismatches")
    # Reference tokenizers loaded and saved again by gort must encode as the originals.
    texts = strings(2, 600)
    rbad = rn = files = 0
    for name in sorted(os.listdir(d)):
        if not name.startswith("resaved-"):
            continue
        files += 1
        orig = Tokenizer.from_file(os.path.join(out, name[len("resaved-"):]))
        back = Tokenizer.from_file(os.path.join(d, name))
        for i, a in enumerate(texts):
            b = texts[-1 - i] if i % 3 == 0 else None
            rn += 1
            w, g = encode_case(name, orig, a, b), encode_case(name, back, a, b)
            if w != g:
                rbad += 1
                if rbad <= 10:
                    print("resave mismatch", name, repr(a), repr(b), w.get("ids"), g.get("ids"))
    print(f"check: {files} tokenizers saved by gort, {rn} cases, {rbad} mismatches")
    return bad == 0 and rbad == 0


if __name__ == "__main__":
    cmd, out = sys.argv[1], sys.argv[2]
    if cmd == "gen":
        gen(out, int(sys.argv[3]) if len(sys.argv) > 3 else 3000)
    elif cmd == "testdata":
        testdata(out)
    elif cmd == "check":
        sys.exit(0 if check(out) else 1)
    else:
        sys.exit("usage: parity.py gen|check|testdata DIR")
