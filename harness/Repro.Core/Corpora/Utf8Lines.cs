using System.Text;

namespace Repro.Core.Corpora;

/// <summary>
/// Lines of a UTF-8 stream, decoded strictly one line at a time, so that invalid bytes are reported with the
/// line they are on (a StreamReader decodes whole buffers and would blame the line being read at the time).
/// A leading byte-order mark is skipped; "\n" and "\r\n" end lines.
/// </summary>
public static class Utf8Lines
{
    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Yields (1-based line number, text); throws <see cref="CorpusFormatException"/> on invalid UTF-8.</summary>
    public static IEnumerable<(int Number, string Text)> Read(Stream stream, string path)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        var number = 0;
        var first = true;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var chunk = buffer.AsMemory(0, read);
            if (first)
            {
                if (chunk.Span.StartsWith("\uFEFF"u8)) chunk = chunk[3..];
                first = false;
            }
            while (chunk.Length > 0)
            {
                var newline = chunk.Span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    line.Write(chunk.Span);
                    break;
                }
                line.Write(chunk.Span[..newline]);
                chunk = chunk[(newline + 1)..];
                yield return (++number, Decode(line, path, number));
                line.SetLength(0);
            }
        }
        if (line.Length > 0) yield return (++number, Decode(line, path, number));
    }

    static string Decode(MemoryStream line, string path, int number)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new CorpusFormatException(path, $"line {number}: invalid UTF-8 (byte {e.Index} of the line); re-export the corpus as UTF-8");
        }
    }
}
