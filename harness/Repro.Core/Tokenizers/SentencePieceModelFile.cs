using System.Text;

namespace Repro.Core.Tokenizers;

/// <summary>The kinds of piece in a SentencePiece model (sentencepiece_model.proto, <c>SentencePiece.Type</c>).</summary>
public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

public sealed record SentencePiece(string Piece, float Score, PieceType Type);

/// <summary>
/// What Repro reads of a SentencePiece <c>tokenizer.model</c> (a protobuf <c>ModelProto</c>): the pieces with scores and
/// types, the model type and byte fallback and special ids of the trainer spec, and the normalizer spec. Read with
/// a small wire-format reader; unknown fields are skipped.
/// </summary>
public sealed record SentencePieceModelFile(string Path, IReadOnlyList<SentencePiece> Pieces, int ModelType, bool ByteFallback,
                                            int UnkId, int BosId, int EosId, string NormalizerName, int PrecompiledCharsmapBytes,
                                            bool AddDummyPrefix, bool RemoveExtraWhitespaces, bool EscapeWhitespaces)
{
    public const int Unigram = 1, Bpe = 2;

    public static SentencePieceModelFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new TokenizerFormatException(path, $"cannot be read ({e.Message})");
        }
        try
        {
            return Parse(path, bytes);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new TokenizerFormatException(path,
                $"is not a SentencePiece model ({e.Message}); check that it is the model's own tokenizer.model and not a Git LFS pointer");
        }
    }

    static SentencePieceModelFile Parse(string path, byte[] bytes)
    {
        var pieces = new List<SentencePiece>();
        // proto2 defaults of the fields Repro reads
        int modelType = Unigram, unk = 0, bos = 1, eos = 2;
        var byteFallback = false;
        string name = "nmt_nfkc";
        int charsmap = 0;
        bool dummy = true, removeExtra = true, escape = true;
        foreach (var (field, value) in Fields(bytes, 0, bytes.Length))
        {
            switch (field)
            {
                case 1:
                    string piece = "";
                    float score = 0;
                    var type = PieceType.Normal;
                    foreach (var (f, v) in Fields(bytes, v0(value), v1(value)))
                    {
                        if (f == 1) piece = Encoding.UTF8.GetString(bytes, v.Start, v.Length);
                        else if (f == 2) score = BitConverter.ToSingle(bytes, v.Start);
                        else if (f == 3) type = (PieceType)v.Varint;
                    }
                    pieces.Add(new SentencePiece(piece, score, type));
                    break;
                case 2:
                    foreach (var (f, v) in Fields(bytes, v0(value), v1(value)))
                    {
                        if (f == 3) modelType = (int)v.Varint;
                        else if (f == 35) byteFallback = v.Varint != 0;
                        else if (f == 40) unk = (int)v.Varint;
                        else if (f == 41) bos = (int)v.Varint;
                        else if (f == 42) eos = (int)v.Varint;
                    }
                    break;
                case 3:
                    foreach (var (f, v) in Fields(bytes, v0(value), v1(value)))
                    {
                        if (f == 1) name = Encoding.UTF8.GetString(bytes, v.Start, v.Length);
                        else if (f == 2) charsmap = v.Length;
                        else if (f == 3) dummy = v.Varint != 0;
                        else if (f == 4) removeExtra = v.Varint != 0;
                        else if (f == 5) escape = v.Varint != 0;
                    }
                    break;
            }
        }
        if (pieces.Count == 0) throw new FormatException("it holds no pieces");
        return new SentencePieceModelFile(path, pieces, modelType, byteFallback, unk, bos, eos, name, charsmap, dummy, removeExtra, escape);

        static int v0(Value v) => v.Start;
        static int v1(Value v) => v.Start + v.Length;
    }

    /// <summary>A field's value: a varint, or the bytes <c>[Start, Start + Length)</c> of a length-delimited or fixed field.</summary>
    readonly record struct Value(ulong Varint, int Start, int Length);

    static IEnumerable<(int Field, Value Value)> Fields(byte[] b, int start, int end)
    {
        var at = start;
        while (at < end)
        {
            var key = ReadVarint(b, ref at, end);
            var field = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0:
                    yield return (field, new Value(ReadVarint(b, ref at, end), 0, 0));
                    break;
                case 1:
                    Need(at + 8, end);
                    yield return (field, new Value(0, at, 8));
                    at += 8;
                    break;
                case 2:
                    var length = ReadVarint(b, ref at, end);
                    if (length > (ulong)(end - at)) throw new FormatException($"a field of {length} bytes runs past the end at byte {at}");
                    yield return (field, new Value(0, at, (int)length));
                    at += (int)length;
                    break;
                case 5:
                    Need(at + 4, end);
                    yield return (field, new Value(0, at, 4));
                    at += 4;
                    break;
                default:
                    throw new FormatException($"wire type {key & 7} at byte {at} is not protobuf");
            }
        }
    }

    static void Need(int upTo, int end)
    {
        if (upTo > end) throw new FormatException("a fixed-size field runs past the end");
    }

    static ulong ReadVarint(byte[] b, ref int at, int end)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= end) throw new FormatException("a varint runs past the end");
            var x = b[at++];
            value |= (ulong)(x & 0x7F) << shift;
            if ((x & 0x80) == 0) return value;
        }
        throw new FormatException("a varint is longer than 10 bytes");
    }
}
