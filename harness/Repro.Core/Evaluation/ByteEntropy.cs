using System.Text;

namespace Repro.Core.Evaluation;

/// <summary>
/// The zeroth-order baseline a trained byte-level model must beat: the entropy of a text's UTF-8 byte
/// distribution, i.e. the bits per byte of the best model that ignores context. A fixture model whose
/// validation bits per byte are not well below it has learnt little more than byte frequencies.
/// </summary>
public static class ByteEntropy
{
    /// <summary><c>−Σ p(b) log₂ p(b)</c> over the byte values of <paramref name="text"/>'s UTF-8 encoding, in bits.</summary>
    public static double Unigram(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length == 0) throw new ArgumentException("the text is empty: an empty text has no byte distribution", nameof(text));
        var counts = new long[256];
        foreach (var b in bytes) counts[b]++;
        double total = bytes.Length, entropy = 0;
        foreach (var c in counts)
        {
            if (c == 0) continue;
            var p = c / total;
            entropy -= p * Math.Log2(p);
        }
        return entropy;
    }
}
