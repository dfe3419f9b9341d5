using Repro.Core.Evaluation;

namespace Repro.Core.Tests.Evaluation;

public sealed class ByteEntropyTests
{
    [TestCase("aaaa", 0.0)]
    [TestCase("abab", 1.0)]
    [TestCase("abcd", 2.0)]
    [TestCase("aaab", 0.8112781244591328)]   // −(¾ log₂ ¾ + ¼ log₂ ¼)
    public void Unigram_entropy_of_hand_computed_texts(string text, double bits) =>
        Assert.That(ByteEntropy.Unigram(text), Is.EqualTo(bits).Within(1e-12));

    [Test]
    public void Counts_utf8_bytes_not_characters()
    {
        // "éé" is C3 A9 C3 A9: two byte values in equal shares, one bit, though it is one repeated character.
        Assert.That(ByteEntropy.Unigram("éé"), Is.EqualTo(1.0).Within(1e-12));
    }

    [Test]
    public void Uniform_over_the_128_ascii_bytes_is_7_bits()
    {
        var text = new string([.. Enumerable.Range(0, 128).Select(i => (char)i)]);
        Assert.That(ByteEntropy.Unigram(text), Is.EqualTo(7.0).Within(1e-12));
    }

    [Test]
    public void Empty_text_is_refused() =>
        Assert.That(() => ByteEntropy.Unigram(""), Throws.ArgumentException.With.Message.Contains("empty"));
}
