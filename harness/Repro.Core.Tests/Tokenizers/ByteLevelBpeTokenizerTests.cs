using System.Text;
using System.Text.Json.Nodes;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

/// <summary>
/// A hand-written Llama-3-shaped tokenizer.json: the 256 byte symbols as ids 0..255 (by byte value), six
/// merges, Llama-3's Split regex before a ByteLevel step without regex, and two special tokens.
/// </summary>
public sealed class ByteLevelBpeTokenizerTests
{
    const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // merge → new id: Ġt=256, he=257, Ġthe=258, ä½=259, 你 (ä½ł)=260, ll=261
    static readonly (string, string)[] Merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("ä", "½"), ("ä½", "ł"), ("l", "l")];
    const int Bot = 262, Eot = 263;

    internal static JsonObject TokenizerJson(bool pairMerges = false, bool ignoreMerges = false, JsonNode? normalizer = null,
                                             JsonNode? preTokenizer = null, IEnumerable<(string, int)>? extraVocab = null)
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++) vocab[ByteLevelAlphabet.Symbols[b]] = b;
        var next = 256;
        foreach (var (a, b) in Merges) vocab[a + b] = next++;
        foreach (var (token, id) in extraVocab ?? []) vocab[token] = id;
        var merges = new JsonArray([.. Merges.Select(m => pairMerges ? (JsonNode)new JsonArray(m.Item1, m.Item2) : $"{m.Item1} {m.Item2}")]);
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = Bot, ["content"] = "<|begin_of_text|>", ["special"] = true },
                new JsonObject { ["id"] = Eot, ["content"] = "<|end_of_text|>", ["special"] = true }),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer ?? new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true },
                    new JsonObject
                    {
                        ["type"] = "TemplateProcessing",
                        ["single"] = new JsonArray(
                            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                        ["special_tokens"] = new JsonObject
                        {
                            ["<|begin_of_text|>"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["ids"] = new JsonArray(Bot), ["tokens"] = new JsonArray("<|begin_of_text|>") },
                        },
                    }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    internal static ITextTokenizer Load(TempFolder dir, JsonObject json)
    {
        dir.File("tokenizer.json", json.ToJsonString());
        dir.File("tokenizer_config.json", "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": {\"content\": \"<|end_of_text|>\", \"special\": true}}");
        return TokenizerLoader.FromFolder(dir.Path);
    }

    const string Sample = "the cat sells 你好<|end_of_text|>";

    // Pieces (Llama-3 regex): "the" " cat" " sells" " 你好", then the special token.
    //   "the"    t h e          → h+e (rank 1)                   → t he
    //   " cat"   Ġ c a t        → no pair has a merge            → Ġ c a t
    //   " sells" Ġ s e l l s    → l+l (rank 5)                   → Ġ s e ll s
    //   " 你好"  Ġ ä ½ ł å ¥ ½  → ä+½ (rank 3), then ä½+ł (4)    → Ġ 你 å ¥ ½
    static readonly int[] SampleIds =
        [Bot, 't', 257, 32, 'c', 'a', 't', 32, 's', 'e', 261, 's', 32, 260, 0xE5, 0xA5, 0xBD, Eot];

    [Test]
    public void A_hand_written_tokenizer_json_encodes_to_the_hand_derived_ids()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir, TokenizerJson());
        Assert.That(tokenizer, Is.TypeOf<ByteLevelBpeTokenizer>());
        Assert.That((tokenizer.BosId, tokenizer.EosId, tokenizer.VocabSize), Is.EqualTo(((int?)Bot, (int?)Eot, 264)));
        var tokens = tokenizer.Encode(Sample, addBos: true);
        Assert.That(tokens.Ids, Is.EqualTo(SampleIds));
        Assert.That(tokenizer.Decode(tokens.Ids), Is.EqualTo("<|begin_of_text|>" + Sample));
    }

    [Test]
    public void Byte_spans_follow_the_token_bytes_and_sum_to_the_text_length()
    {
        using var dir = new TempFolder();
        var tokens = Load(dir, TokenizerJson()).Encode(Sample, addBos: true);
        Assert.That(tokens.Spans, Is.EqualTo(new ByteSpan[]
        {
            new(0, 0),                                                  // BOS
            new(0, 1), new(1, 3),                                       // t he
            new(3, 4), new(4, 5), new(5, 6), new(6, 7),                 // Ġ c a t
            new(7, 8), new(8, 9), new(9, 10), new(10, 12), new(12, 13), // Ġ s e ll s
            new(13, 14), new(14, 17),                                   // Ġ 你
            new(17, 17), new(17, 17), new(17, 20),                      // 好 split in three bytes
            new(20, 35),                                                // <|end_of_text|>
        }));
        Assert.That(tokens.Spans.Sum(s => s.Length), Is.EqualTo(Encoding.UTF8.GetByteCount(Sample)));
    }

    [Test]
    public void Merges_written_as_pairs_give_the_same_ids()
    {
        using var dir = new TempFolder();
        Assert.That(Load(dir, TokenizerJson(pairMerges: true)).Encode(Sample, addBos: true).Ids, Is.EqualTo(SampleIds));
    }

    [Test]
    public void Ignore_merges_takes_a_piece_that_is_in_the_vocabulary_whole()
    {
        using var dir = new TempFolder();
        var extra = new[] { ("Ġsells", 300) };
        Assert.That(Load(dir, TokenizerJson(extraVocab: extra)).Encode(" sells", false).Ids, Is.EqualTo(new[] { 32, 's', 'e', 261, 's' }));
        using var dir2 = new TempFolder();
        Assert.That(Load(dir2, TokenizerJson(ignoreMerges: true, extraVocab: extra)).Encode(" sells", false).Ids, Is.EqualTo(new[] { 300 }));
    }

    [Test]
    public void The_nfc_normalizer_composes_before_bytes_are_taken()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir, TokenizerJson(normalizer: new JsonObject { ["type"] = "NFC" }));
        var tokens = tokenizer.Encode("e\u0301", addBos: false);       // e + combining acute → é (C3 A9)
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 0xC3, 0xA9 }));
        Assert.That(tokens.TextBytes, Is.EqualTo(2));
    }

    [Test]
    public void Gpt2_style_byte_level_regex_and_digit_splitting_are_applied()
    {
        using var dir = new TempFolder();
        var pre = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Digits", ["individual_digits"] = true },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true }),
        };
        var extra = new[] { ("12", 300), ("Ġthe12", 301) };
        // Digits isolate "1" and "2", so the merge-free vocab entry "12" is never reached; " the" merges as before.
        var tokens = Load(dir, TokenizerJson(preTokenizer: pre, extraVocab: extra, ignoreMerges: true)).Encode(" the12", false);
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 258, '1', '2' }));
    }

    [Test]
    public void Qwen_style_tokenizers_add_no_bos()
    {
        using var dir = new TempFolder();
        var json = TokenizerJson();
        json["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false };
        dir.File("tokenizer.json", json.ToJsonString());
        dir.File("tokenizer_config.json", "{\"bos_token\": null, \"eos_token\": \"<|end_of_text|>\"}");
        var tokenizer = TokenizerLoader.FromFolder(dir.Path);
        Assert.That(tokenizer.BosId, Is.Null);
        Assert.That(tokenizer.Encode("the", addBos: true).Ids, Is.EqualTo(new[] { 't', 257 }));
    }

    [Test]
    public void An_unsupported_pre_tokenizer_is_named()
    {
        using var dir = new TempFolder();
        var json = TokenizerJson(preTokenizer: new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(new JsonObject { ["type"] = "Punctuation" }, new JsonObject { ["type"] = "ByteLevel" }),
        });
        Assert.That(() => Load(dir, json), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.Contain("tokenizer.json").And.Message.Contain("'Punctuation'"));
    }

    [Test]
    public void A_negative_id_in_the_vocabulary_or_the_added_tokens_is_refused_naming_the_entry()
    {
        using var dir = new TempFolder();
        Assert.That(() => Load(dir, TokenizerJson(extraVocab: [("neg", -3)])), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.Contain("tokenizer.json").And.Message.Contain("vocab entry 'neg' has id -3"));
        var json = TokenizerJson();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = -1, ["content"] = "<bad>", ["special"] = true });
        Assert.That(() => Load(dir, json), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.Contain("added token '<bad>' has id -1"));
    }

    /// <summary>
    /// The vocabulary size is the largest id + 1: an id of int.MaxValue wraps it to int.MinValue, which passes every
    /// "fits vocab_size" check, so such an id is refused where it is read, naming the file and the entry.
    /// </summary>
    [Test]
    public void An_id_whose_vocabulary_size_would_not_fit_an_int_is_refused_naming_the_entry()
    {
        using var dir = new TempFolder();
        Assert.That(() => Load(dir, TokenizerJson(extraVocab: [("huge", int.MaxValue)])), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(Path.Combine(dir.Path, "tokenizer.json")).And.Message.Contain($"vocab entry 'huge' has id {int.MaxValue}"));
        var json = TokenizerJson();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = int.MaxValue, ["content"] = "<huge>", ["special"] = true });
        Assert.That(() => Load(dir, json), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(Path.Combine(dir.Path, "tokenizer.json")).And.Message.Contain($"added token '<huge>' has id {int.MaxValue}"));
    }

    /// <summary>The largest id allowed gives a vocabulary of int.MaxValue ids, which a model's vocab_size check then refuses.</summary>
    [Test]
    public void The_largest_allowed_id_gives_a_vocabulary_size_that_the_model_check_refuses()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir, TokenizerJson(extraVocab: [("huge", HfTokenizerFiles.MaxId)]));
        Assert.That(tokenizer.VocabSize, Is.EqualTo((long)HfTokenizerFiles.MaxId + 1));
        Assert.That(() => TokenizerLoader.RequireFits(tokenizer, Eot + 1, dir.Path), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.Contain($"declares vocab_size {Eot + 1}"));
    }

    [Test]
    public void A_tokenizer_with_ids_past_the_models_vocabulary_is_refused_for_that_model()
    {
        using var dir = new TempFolder();
        Load(dir, TokenizerJson(extraVocab: [("far", 5000)]));
        dir.File("config.json", "{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1, " +
                                "\"num_attention_heads\": 2, \"num_key_value_heads\": 2, \"vocab_size\": 300, \"max_position_embeddings\": 64, " +
                                "\"rms_norm_eps\": 1e-5}");
        Assert.That(() => TokenizerLoader.ForModel(dir.Path), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(dir.Path + ": the tokenizer has 5001 ids (up to 5000) but config.json declares vocab_size 300"));
    }

    static string ByteLevel(string text) => string.Concat(Encoding.UTF8.GetBytes(text).Select(b => ByteLevelAlphabet.Symbols[b]));

    static int[] Bytes(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    // Llama-3's regex over code points, as HF and tiktoken run it: " 𝟏" is the space, then the digit (\p{N}{1,3}),
    // never one symbol run " ?[^\s\p{L}\p{N}]+"; "a𝐀" (𝐀 is a letter, Lu) is one \p{L}+ run. Both joined strings are
    // vocabulary entries here, and ignore_merges takes a whole piece found in the vocabulary, so a piece split at
    // the wrong place shows as a different id sequence.
    [TestCase(" 𝟏", new[] { " ", "𝟏" })]
    [TestCase("a𝐀", new[] { "a𝐀" })]
    [TestCase("x 𝟏𝟐𝟑𝟒", new[] { "x", " ", "𝟏𝟐𝟑", "𝟒" })]
    public void Astral_plane_characters_are_classified_by_code_point_as_hf_does(string text, string[] pieces)
    {
        using var dir = new TempFolder();
        (string, int)[] extra = [(ByteLevel(" 𝟏"), 300), (ByteLevel("a𝐀"), 301), (ByteLevel("𝟏𝟐𝟑"), 302)];
        var tokenizer = Load(dir, TokenizerJson(extraVocab: extra, ignoreMerges: true));
        var expected = pieces.SelectMany(p => extra.FirstOrDefault(e => e.Item1 == ByteLevel(p)) is var (_, id) && id != 0 ? new[] { id } : Bytes(p));
        Assert.That(tokenizer.Encode(text, addBos: false).Ids, Is.EqualTo(expected));
    }

    [Test]
    public void Every_stand_in_has_the_category_it_stands_for()
    {
        foreach (var category in Enum.GetValues<System.Globalization.UnicodeCategory>())
        {
            if (category is System.Globalization.UnicodeCategory.Surrogate or System.Globalization.UnicodeCategory.LineSeparator
                or System.Globalization.UnicodeCategory.ParagraphSeparator) continue;
            Assert.That(char.GetUnicodeCategory(CodePointRegex.StandIn(category)), Is.EqualTo(category), category.ToString());
        }
    }

    // "lll" with the merge l+l (id 261): the leftmost of the tied pairs merges, as in HF: ll + l.
    [Test]
    public void A_tied_pair_merges_leftmost()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir, TokenizerJson());
        Assert.That(tokenizer.Encode("lll", addBos: false).Ids, Is.EqualTo(new[] { 261, 'l' }));
        Assert.That(tokenizer.Encode("lllll", addBos: false).Ids, Is.EqualTo(new[] { 261, 261, 'l' }));
    }
}
