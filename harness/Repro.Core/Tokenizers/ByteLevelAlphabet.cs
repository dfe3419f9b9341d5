namespace Repro.Core.Tokenizers;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c>: byte-level BPE vocabularies (GPT-2, Llama-3, Qwen2/3) spell every byte
/// as one printable character, so that tokenizer.json can hold byte sequences as JSON strings
/// (space is 'Ġ' U+0120, newline 'Ċ' U+010A). Printable Latin-1 bytes map to themselves; the other 68
/// bytes map to U+0100 upwards in byte order.
/// </summary>
public static class ByteLevelAlphabet
{
    static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The symbol byte-level BPE uses for <paramref name="b"/>.</summary>
    public static char Symbol(byte b) => ByteToChar[b];

    /// <summary>The 256 symbols in byte order.</summary>
    public static IReadOnlyList<string> Symbols { get; } = ByteToChar.Select(c => c.ToString()).ToArray();

    /// <summary>Byte-level spelling of raw bytes.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>Bytes of a byte-level token string; false if it holds a character outside the alphabet.</summary>
    public static bool TryDecode(string token, List<byte> into)
    {
        foreach (var c in token)
        {
            if (!CharToByte.TryGetValue(c, out var b)) return false;
            into.Add(b);
        }
        return true;
    }

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        var isPrintable = new bool[256];
        for (var b = '!'; b <= '~'; b++) isPrintable[b] = true;
        for (var b = 0xA1; b <= 0xAC; b++) isPrintable[b] = true;
        for (var b = 0xAE; b <= 0xFF; b++) isPrintable[b] = true;
        var next = 256;
        for (var b = 0; b < 256; b++) map[b] = isPrintable[b] ? (char)b : (char)next++;
        return map;
    }
}
