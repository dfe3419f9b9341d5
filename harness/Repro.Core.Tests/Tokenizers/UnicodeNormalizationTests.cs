using System.Text;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

public sealed class UnicodeNormalizationTests
{
    [TestCase("e\u0301", NormalizationForm.FormC, "é")]
    [TestCase("\uF900", NormalizationForm.FormC, "\u8C48")]          // CJK compatibility ideograph → unified
    [TestCase("é", NormalizationForm.FormD, "e\u0301")]
    [TestCase("\uFB01x", NormalizationForm.FormKC, "fix")]            // ligature fi
    [TestCase("plain ascii", NormalizationForm.FormKD, "plain ascii")]
    public void Normalizes_even_in_globalization_invariant_mode(string input, NormalizationForm form, string expected)
    {
        Assume.That(UnicodeNormalization.IsAvailable(out var why), why);
        Assert.That(UnicodeNormalization.Normalize(input, form), Is.EqualTo(expected));
    }
}
