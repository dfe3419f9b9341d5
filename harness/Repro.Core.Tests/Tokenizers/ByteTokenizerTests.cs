using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

public sealed class ByteTokenizerTests
{
    const string Multilingual = "Hello, мир! مرحبا بالعالم 你好世界 😀👍🏽 Kiswahili ni lugha.";

    [Test]
    public void Multilingual_text_round_trips_as_its_utf8_bytes()
    {
        var tokenizer = new ByteTokenizer();
        var tokens = tokenizer.Encode(Multilingual, addBos: false);
        Assert.That(tokens.Ids, Is.EqualTo(Encoding.UTF8.GetBytes(Multilingual).Select(b => (int)b)));
        Assert.That(tokenizer.Decode(tokens.Ids), Is.EqualTo(Multilingual));
    }

    [Test]
    public void Each_character_is_spanned_by_the_token_that_completes_it()
    {
        var tokens = new ByteTokenizer().Encode(Multilingual, addBos: false);
        var expected = new List<ByteSpan>();
        var offset = 0;
        foreach (var rune in Multilingual.EnumerateRunes())
        {
            var length = rune.Utf8SequenceLength;
            for (var k = 0; k < length - 1; k++) expected.Add(new ByteSpan(offset, offset));   // inside the character
            expected.Add(new ByteSpan(offset, offset + length));
            offset += length;
        }
        Assert.That(tokens.Spans, Is.EqualTo(expected));
        Assert.That(tokens.TextBytes, Is.EqualTo(Encoding.UTF8.GetByteCount(Multilingual)));
    }

    [Test]
    public void Bos_comes_first_and_spells_no_bytes()
    {
        var tokens = new ByteTokenizer().Encode("ab", addBos: true);
        Assert.That(tokens.Ids, Is.EqualTo(new[] { 256, 97, 98 }));
        Assert.That(tokens.Spans, Is.EqualTo(new[] { new ByteSpan(0, 0), new ByteSpan(0, 1), new ByteSpan(1, 2) }));
    }

    [Test]
    public void A_tokenizer_that_adds_no_bos_ignores_the_request()
    {
        var tokenizer = new ByteTokenizer(addsBos: false);
        Assert.That(tokenizer.BosId, Is.Null);
        Assert.That(tokenizer.BosTokenId, Is.EqualTo(256));
        Assert.That(tokenizer.Encode("ab", addBos: true).Ids, Is.EqualTo(new[] { 97, 98 }));
    }

    [Test]
    public void Special_tokens_in_the_text_become_their_ids()
    {
        var tokenizer = new ByteTokenizer();
        var tokens = tokenizer.Encode("a<|eos|>b<|pad", addBos: false);
        int[] expected = [97, 257, 98, .. "<|pad"u8.ToArray().Select(b => (int)b)];
        Assert.That(tokens.Ids, Is.EqualTo(expected));
        Assert.That(tokens.Spans[1], Is.EqualTo(new ByteSpan(1, 8)));
        Assert.That(tokenizer.Decode(tokens.Ids), Is.EqualTo("a<|eos|>b<|pad"));
    }

    [Test]
    public void Vocabulary_size_is_configurable_with_reserved_tokens()
    {
        var tokenizer = new ByteTokenizer(vocabSize: 264);
        Assert.That(tokenizer.VocabSize, Is.EqualTo(264));
        Assert.That(tokenizer.SpecialTokens[^1], Is.EqualTo("<|reserved_4|>"));
        Assert.That((tokenizer.BosId, tokenizer.EosId), Is.EqualTo(((int?)256, (int?)257)));
        Assert.That(() => new ByteTokenizer(vocabSize: 258), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    static readonly string[] Pieces = ["a", " ", "\n", "é", "ж", "ع", "中", "😀", "<|bos|>", "<|", "\u0301", "𠀀"];

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Spans_are_contiguous_and_cover_every_byte() =>
        Prop.ForAll(Gen.Elements(Pieces).ListOf().Select(l => string.Concat(l)).ToArbitrary(), text =>
        {
            var tokens = new ByteTokenizer().Encode(text, addBos: true);
            var contiguous = tokens.Spans.Zip(tokens.Spans.Skip(1)).All(p => p.First.End == p.Second.Start);
            return (contiguous && tokens.Spans[0].Start == 0).Label("spans not contiguous from 0")
                .And((tokens.TextBytes == Encoding.UTF8.GetByteCount(text)).Label($"{tokens.TextBytes} bytes spanned"))
                .And((new ByteTokenizer().Decode(tokens.Ids) == "<|bos|>" + text).Label("no round trip"));
        });
}
