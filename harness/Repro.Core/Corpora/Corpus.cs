using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Repro.Core.Corpora;

/// <summary>
/// The documents of one language and split, in file order, held in memory (training reads them all; tests build
/// them by hand). Calibration sampling and evaluation read a <see cref="CorpusStream"/> instead, which holds none.
/// Order is part of the value, and <see cref="ContentSha256"/> records it.
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

    /// <summary>The same documents as a stream, for the consumers that take one.</summary>
    public CorpusStream AsStream() => new(Language, Documents, SourcePath);

    public static string HashDocuments(IEnumerable<string> documents)
    {
        using var hash = new DocumentsHash();
        foreach (var document in documents) hash.Append(document);
        return hash.Finish();
    }

    /// <summary>SHA-256 (lower-case hex) of a string's UTF-8 bytes: the hash of an exact evaluation text.</summary>
    public static string HashText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

/// <summary>
/// The documents of one language and split as a sequence that is read from its file each time it is enumerated and
/// holds no document once the consumer has moved past it: a paper-scale split is gigabytes of text. A gzip file's
/// trailer is checked when the sequence reaches the end (<see cref="GzipFile"/>), so a truncated file is an error
/// naming it for every consumer that reads to the end; one that stops early (the leading documents of an evaluation)
/// has read only text that decompressed whole and says by its hash which.
/// </summary>
public sealed record CorpusStream(string Language, IEnumerable<string> Documents, string SourcePath)
{
    /// <summary>Every document in memory.</summary>
    public Corpus ReadAll() => new(Language, [.. Documents], SourcePath);

    /// <summary><see cref="Corpus.ContentSha256"/> of the documents, read once.</summary>
    public string ContentSha256() => Corpus.HashDocuments(Documents);
}

/// <summary>
/// <see cref="Corpus.ContentSha256"/> built one document at a time, so a consumer that streams a corpus hashes it in
/// the same pass: each document as its UTF-8 byte length (8 bytes, little-endian) followed by its UTF-8 bytes.
/// </summary>
public sealed class DocumentsHash : IDisposable
{
    readonly IncrementalHash sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public void Append(string document)
    {
        var bytes = Encoding.UTF8.GetBytes(document);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
        sha.AppendData(length);
        sha.AppendData(bytes);
    }

    /// <summary>Lower-case hex of the hash of every document appended.</summary>
    public string Finish() => Convert.ToHexStringLower(sha.GetHashAndReset());

    public void Dispose() => sha.Dispose();
}
