using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

public sealed class SentencePieceTextTokenizerTests
{
    // 259 ▁the, 260 ▁t, 261 he, then single characters 262.. ; bytes are <0xNN> = 3 + NN.
    static readonly (string, float)[] Pieces =
        [("▁the", -1), ("▁t", -2), ("he", -3), ("▁", -10), ("t", -10), ("h", -10), ("e", -10), ("c", -10), ("a", -10)];

    static ITextTokenizer Load(TempFolder dir)
    {
        File.WriteAllBytes(dir.File("tokenizer.model"), SentencePieceModelWriter.BpeWithByteFallback(Pieces));
        return TokenizerLoader.FromFolder(dir.Path);
    }

    [Test]
    public void A_folder_with_tokenizer_model_loads_sentencepiece_with_bos()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir);
        Assert.That(tokenizer, Is.TypeOf<SentencePieceBpeTokenizer>(), "a BPE model with the identity normalizer runs Repro's merge loop");
        Assert.That((tokenizer.BosId, tokenizer.EosId, tokenizer.VocabSize), Is.EqualTo(((int?)1, (int?)2, 268)));
    }

    [Test]
    public void Byte_fallback_pieces_and_the_dummy_prefix_get_exact_byte_spans()
    {
        using var dir = new TempFolder();
        var tokenizer = Load(dir);
        const string text = "the 你 cat";
        var tokens = tokenizer.Encode(text, addBos: true);
        // <s> ▁the ▁ <0xE4> <0xBD> <0xA0> ▁ c a t
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 1, 259, 262, 3 + 0xE4, 3 + 0xBD, 3 + 0xA0, 262, 266, 267, 263 }));
        Assert.That(tokens.Spans, Is.EqualTo(new ByteSpan[]
        {
            new(0, 0),                         // BOS
            new(0, 3),                         // "▁the": the dummy-prefix space is not text
            new(3, 4),
            new(4, 4), new(4, 4), new(4, 7),   // 你 is complete with its third byte
            new(7, 8), new(8, 9), new(9, 10), new(10, 11),
        }));
        Assert.That(tokenizer.Decode(tokens.Ids.Skip(1).ToList()), Is.EqualTo(text));
    }

    [Test]
    public void Add_bos_token_false_in_the_config_turns_bos_off()
    {
        using var dir = new TempFolder();
        dir.File("tokenizer_config.json", "{\"add_bos_token\": false}");
        var tokenizer = Load(dir);
        Assert.That(tokenizer.BosId, Is.Null);
        Assert.That(tokenizer.Encode("the", addBos: true).Ids, Is.EqualTo(new[] { 259 }));
    }

    [Test]
    public void A_corrupt_model_file_names_the_file()
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.model", "version https://git-lfs.github.com/spec/v1\n");
        Assert.That(() => TokenizerLoader.FromFolder(dir.Path),
            Throws.TypeOf<TokenizerFormatException>().With.Message.StartWith(path));
    }
}
