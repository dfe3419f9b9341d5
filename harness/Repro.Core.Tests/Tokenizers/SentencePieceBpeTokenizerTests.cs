using System.Text.Json.Nodes;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

/// <summary>
/// SentencePiece-style BPE from a tokenizer.model and from a tokenizer.json, on small hand-made vocabularies whose
/// expected ids follow from the merge rules by hand.
/// </summary>
public sealed class SentencePieceBpeTokenizerTests
{
    // ids (after <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF>=3..258): 259 PP, 260 ▁(, 261 ▁, 262 (, 263 ), 264 P, 265 a, 266 b, 267 ▁a
    static readonly (string, float)[] Pieces =
        [("PP", -1), ("▁(", -2), ("▁", -5), ("(", -6), (")", -6), ("P", -6), ("a", -6), ("b", -6), ("▁a", -3)];
    const int PP = 259, SpaceParen = 260, Space = 261, Close = 263, P = 264, A = 265, B = 266, SpaceA = 267;

    static ITextTokenizer FromModel(TempFolder dir)
    {
        File.WriteAllBytes(dir.File("tokenizer.model"), SentencePieceModelWriter.BpeWithByteFallback(Pieces));
        return TokenizerLoader.FromFolder(dir.Path);
    }

    /// <summary>The same vocabulary as HF's converter writes it: merges ordered by the joined piece's score.</summary>
    static JsonObject TokenizerJson(JsonNode? normalizer, JsonNode? preTokenizer)
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (var b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        for (var i = 0; i < Pieces.Length; i++) vocab[Pieces[i].Item1] = 259 + i;
        return new JsonObject
        {
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["special"] = true },
                new JsonObject { ["id"] = 1, ["content"] = "<s>", ["special"] = true },
                new JsonObject { ["id"] = 2, ["content"] = "</s>", ["special"] = true }),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") } },
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["unk_token"] = "<unk>", ["byte_fallback"] = true, ["fuse_unk"] = true,
                ["vocab"] = vocab, ["merges"] = new JsonArray("P P", "▁ (", "▁ a"),
            },
        };
    }

    static JsonNode LegacyNormalizer => new JsonObject
    {
        ["type"] = "Sequence",
        ["normalizers"] = new JsonArray(
            new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
    };

    static ITextTokenizer FromJson(TempFolder dir, JsonObject json)
    {
        dir.File("tokenizer.json", json.ToJsonString());
        return TokenizerLoader.FromFolder(dir.Path);
    }

    // "(PPP)" → "▁(PPP)": ▁( (score −2) and PP (−1, twice, tied): PP merges first and, of the tied pair, the leftmost:
    // ▁( PP P ). Merging from the right would give ▁( P PP ).
    [Test]
    public void A_tied_pair_merges_leftmost_from_a_tokenizer_model()
    {
        using var dir = new TempFolder();
        Assert.That(FromModel(dir).Encode("(PPP)", addBos: false).Ids, Is.EqualTo(new[] { SpaceParen, PP, P, Close }));
        Assert.That(FromModel(dir).Encode("PPPP", addBos: false).Ids, Is.EqualTo(new[] { Space, PP, PP }));
    }

    [Test]
    public void A_sentencepiece_style_tokenizer_json_loads_without_a_tokenizer_model_and_agrees_with_it()
    {
        using var jsonDir = new TempFolder();
        using var modelDir = new TempFolder();
        var json = FromJson(jsonDir, TokenizerJson(LegacyNormalizer, null));
        var model = FromModel(modelDir);
        Assert.That(json, Is.TypeOf<SentencePieceBpeTokenizer>());
        foreach (var text in new[] { "(PPP)", "a b", "ab  a", " a", "PPPPP (a) 你", "a<s>b</s>", "" })
        {
            Assert.That(json.Encode(text, addBos: true).Ids, Is.EqualTo(model.Encode(text, addBos: true).Ids), text);
            Assert.That(json.Encode(text, addBos: true).Spans, Is.EqualTo(model.Encode(text, addBos: true).Spans), text);
        }
        Assert.That(json.BosId, Is.EqualTo(1));
    }

    // HF maps special-token text to its id (web text holds "<s>"); each plain segment then gets its own '▁' prefix, as
    // HF's legacy Llama tokenizer and SentencePiece on each segment do.
    [Test]
    public void Special_token_text_becomes_its_id_and_spells_its_characters()
    {
        using var dir = new TempFolder();
        var tokens = FromModel(dir).Encode("a<s>b", addBos: false);
        Assert.That(tokens.Ids, Is.EqualTo(new[] { SpaceA, 1, Space, B }));
        Assert.That(tokens.Spans, Is.EqualTo(new ByteSpan[] { new(0, 1), new(1, 4), new(4, 4), new(4, 5) }), "the prefix spaces are not text");
    }

    // The control and unknown pieces in text are special tokens too (HF lists <unk>, <s>, </s> as special added tokens):
    // "a</s>b" is "a", "</s>", "b"; "▁a" is piece 267, "</s>" is id 2, and "▁b", not a piece and with no merge, is ▁ (261) b (266).
    // "</s>" spells bytes 1..5 of the text, "<unk>" bytes 1..6; the prefix '▁' of the segment after it spells nothing.
    [TestCase("a</s>b", 2, 5)]
    [TestCase("a<unk>b", 0, 6)]
    public void End_and_unknown_token_text_becomes_its_id_from_a_tokenizer_model_and_a_tokenizer_json(string text, int id, int end)
    {
        using var modelDir = new TempFolder();
        using var jsonDir = new TempFolder();
        foreach (var tokenizer in new[] { FromModel(modelDir), FromJson(jsonDir, TokenizerJson(LegacyNormalizer, null)) })
        {
            var tokens = tokenizer.Encode(text, addBos: false);
            Assert.That(tokens.Ids, Is.EqualTo(new[] { SpaceA, id, Space, B }), tokenizer.GetType().Name);
            Assert.That(tokens.Spans, Is.EqualTo(new ByteSpan[] { new(0, 1), new(1, end), new(end, end), new(end, end + 1) }), tokenizer.GetType().Name);
        }
    }

    /// <summary>The <c>&lt;unk&gt;</c> written in text spells its five characters; an unknown character's <c>&lt;unk&gt;</c> spells that character.</summary>
    [Test]
    public void Unknown_token_text_and_an_unknown_character_share_the_id_but_not_the_spelling()
    {
        using var dir = new TempFolder();
        var json = TokenizerJson(LegacyNormalizer, null);
        json["model"]!["byte_fallback"] = false;
        var tokenizer = FromJson(dir, json);
        var tokens = tokenizer.Encode("<unk>你", addBos: false);
        // "<unk>" first, then the segment "你", prefixed: ▁ (261) and the unknown character (id 0, its three bytes 5..8).
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 0, Space, 0 }));
        Assert.That(tokens.Spans, Is.EqualTo(new ByteSpan[] { new(0, 5), new(5, 5), new(5, 8) }));
    }

    [Test]
    public void Metaspace_prepends_once_splits_words_and_first_prepends_only_at_the_start()
    {
        using var always = new TempFolder();
        using var first = new TempFolder();
        JsonObject Metaspace(string scheme) => new() { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = scheme, ["split"] = true };
        var a = FromJson(always, TokenizerJson(null, Metaspace("always")));
        var f = FromJson(first, TokenizerJson(null, Metaspace("first")));
        Assert.That(a.Encode(" a", addBos: false).Ids, Is.EqualTo(new[] { SpaceA }), "no second '▁' before a leading space");
        Assert.That(a.Encode("a<s>b", addBos: false).Ids, Is.EqualTo(new[] { SpaceA, 1, Space, B }));
        Assert.That(f.Encode("a<s>b", addBos: false).Ids, Is.EqualTo(new[] { SpaceA, 1, B }), "first: only the segment at the start");
    }

    [Test]
    public void Without_byte_fallback_a_run_of_unknown_characters_is_one_unk_spelling_all_of_them()
    {
        using var dir = new TempFolder();
        var json = TokenizerJson(LegacyNormalizer, null);
        json["model"]!["byte_fallback"] = false;
        var tokens = FromJson(dir, json).Encode("a你好b", addBos: false);
        Assert.That(tokens.Ids, Is.EqualTo(new[] { SpaceA, 0, B }));
        Assert.That(tokens.Spans[1], Is.EqualTo(new ByteSpan(1, 7)), "<unk> covers both characters' six bytes");
    }

    [Test]
    public void A_sentencepiece_style_tokenizer_json_with_an_id_of_int_max_value_is_refused_naming_the_entry()
    {
        using var dir = new TempFolder();
        var json = TokenizerJson(LegacyNormalizer, null);
        json["model"]!["vocab"]!["huge"] = int.MaxValue;
        Assert.That(() => FromJson(dir, json), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(Path.Combine(dir.Path, "tokenizer.json")).And.Message.Contain($"vocab entry 'huge' has id {int.MaxValue}"));
    }

    [Test]
    public void Decode_inverts_encode()
    {
        using var dir = new TempFolder();
        var tokenizer = FromModel(dir);
        foreach (var text in new[] { "(PPP)", "a b 你", "ab" })
            Assert.That(tokenizer.Decode(tokenizer.Encode(text, addBos: false).Ids), Is.EqualTo(text));
    }
}

public sealed class BpeMergeLoopTests
{
    [Test]
    public void Ties_merge_leftmost_and_better_priorities_first()
    {
        double? Rank(string a, string b) => (a, b) switch { ("P", "P") => 0, ("PP", "P") => 1, _ => null };
        Assert.That(BpeMergeLoop.Merge(["P", "P", "P"], Rank), Is.EqualTo(new[] { "PPP" }));
        Assert.That(BpeMergeLoop.Merge(["P", "P", "P", "P"], Rank), Is.EqualTo(new[] { "PP", "PP" }));
        double? OnlyPairs(string a, string b) => a == "P" && b == "P" ? 0 : null;
        Assert.That(BpeMergeLoop.Merge(["P", "P", "P"], OnlyPairs), Is.EqualTo(new[] { "PP", "P" }));
    }

    /// <summary>The definition, quadratic: merge the best-priority adjacent pair, the leftmost among equals, until none.</summary>
    static List<string> Naive(List<string> symbols, Func<string, string, double?> priority)
    {
        var s = new List<string>(symbols);
        while (true)
        {
            var best = -1;
            double bestPriority = double.PositiveInfinity;
            for (var i = 0; i + 1 < s.Count; i++)
                if (priority(s[i], s[i + 1]) is { } p && p < bestPriority) (best, bestPriority) = (i, p);
            if (best < 0) return s;
            s[best] += s[best + 1];
            s.RemoveAt(best + 1);
        }
    }

    [Test]
    public void The_heap_gives_what_the_definition_gives_on_random_words()
    {
        var random = new Random(20261203);
        for (var trial = 0; trial < 2000; trial++)
        {
            var alphabet = "abc"[..random.Next(1, 4)];
            var word = Enumerable.Range(0, random.Next(0, 14)).Select(_ => alphabet[random.Next(alphabet.Length)].ToString()).ToList();
            // Priorities of joined strings up to length 4, some pairs not mergeable, many ties.
            var table = new Dictionary<string, double>();
            double? Priority(string a, string b)
            {
                var joined = a + b;
                if (joined.Length > 4) return null;
                if (!table.TryGetValue(joined, out var p)) table[joined] = p = random.Next(4) == 0 ? double.NaN : random.Next(3);
                return double.IsNaN(p) ? null : p;
            }
            var naive = Naive(word, Priority);
            Assert.That(BpeMergeLoop.Merge(word, Priority), Is.EqualTo(naive), $"trial {trial}: {string.Concat(word)}");
        }
    }
}
