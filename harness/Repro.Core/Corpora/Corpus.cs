using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Repro.Core.Corpora;

/// <summary>
/// The documents of one language and split, in file order. Calibration sampling and evaluation read
/// documents by index, so order is part of the value, and <see cref="ContentSha256"/> records it.
/// </summary>
public sealed record Corpus(string Language, IReadOnlyList<string> Documents, string SourcePath)
{
    /// <summary>
    /// SHA-256 (lower-case hex) over the documents in order, each written as its UTF-8 byte length
    /// (8 bytes, little-endian) followed by its UTF-8 bytes. The length prefix keeps ["ab","c"] and
    /// ["a","bc"] apart; the file name and format are left out, so the same text in .jsonl and .jsonl.gz
    /// hashes the same. Results record it to say which text they used. A method, not a cached property:
    /// it reads every document (milliseconds per MB), and a cache would travel through <c>with</c> copies.
    /// </summary>
    public string ContentSha256() => HashDocuments(Documents);

    /// <summary>The first <paramref name="count"/> documents (all if there are fewer).</summary>
    public Corpus Take(int count) => this with { Documents = [.. Documents.Take(count)] };

    public static string HashDocuments(IEnumerable<string> documents)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var document in documents)
        {
            var bytes = Encoding.UTF8.GetBytes(document);
            BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
            sha.AppendData(length);
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>SHA-256 (lower-case hex) of a string's UTF-8 bytes: the hash of an exact evaluation text.</summary>
    public static string HashText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
