using System.Text;

namespace Repro.Core.Tests.Tokenizers;

/// <summary>
/// Writes a tiny SentencePiece ModelProto by hand (protobuf wire format), so the SentencePiece path is tested
/// without shipping a real tokenizer.model. Field numbers from sentencepiece_model.proto.
/// </summary>
static class SentencePieceModelWriter
{
    public enum PieceType { Normal = 1, Unknown = 2, Control = 3, Byte = 6 }

    /// <summary>
    /// A BPE model with byte fallback: &lt;unk&gt;=0, &lt;s&gt;=1, &lt;/s&gt;=2, &lt;0x00&gt;..&lt;0xFF&gt;=3..258, then
    /// <paramref name="pieces"/> from 259 on (score = merge priority, higher first).
    /// </summary>
    public static byte[] BpeWithByteFallback(IEnumerable<(string Piece, float Score)> pieces)
    {
        var model = new MemoryStream();
        var all = new List<(string, float, PieceType)> { ("<unk>", 0, PieceType.Unknown), ("<s>", 0, PieceType.Control), ("</s>", 0, PieceType.Control) };
        for (var b = 0; b < 256; b++) all.Add(($"<0x{b:X2}>", 0, PieceType.Byte));
        all.AddRange(pieces.Select(p => (p.Piece, p.Score, PieceType.Normal)));
        foreach (var (piece, score, type) in all)
        {
            var message = new MemoryStream();
            String(message, 1, piece);
            Float(message, 2, score);
            Int(message, 3, (int)type);
            Bytes(model, 1, message.ToArray());
        }
        var trainer = new MemoryStream();
        Int(trainer, 3, 2);      // model_type BPE
        Int(trainer, 35, 1);     // byte_fallback
        Int(trainer, 40, 0);     // unk_id
        Int(trainer, 41, 1);     // bos_id
        Int(trainer, 42, 2);     // eos_id
        Int(trainer, 43, -1);    // pad_id
        Bytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        String(normalizer, 1, "identity");
        Int(normalizer, 3, 1);   // add_dummy_prefix
        Int(normalizer, 4, 0);   // remove_extra_whitespaces off (Llama-2)
        Int(normalizer, 5, 1);   // escape_whitespaces
        Bytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    static void Tag(Stream s, int field, int wireType) => Varint(s, (ulong)((field << 3) | wireType));
    static void Int(Stream s, int field, long v) { Tag(s, field, 0); Varint(s, (ulong)v); }
    static void Float(Stream s, int field, float v) { Tag(s, field, 5); s.Write(BitConverter.GetBytes(v)); }
    static void String(Stream s, int field, string v) => Bytes(s, field, Encoding.UTF8.GetBytes(v));
    static void Bytes(Stream s, int field, byte[] b) { Tag(s, field, 2); Varint(s, (ulong)b.Length); s.Write(b); }
}
