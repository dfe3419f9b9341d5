using System.Text;
using Parquet;
using Parquet.Schema;

namespace Repro.Core.Corpora;

/// <summary>
/// Reads the documents of a Parquet file (how the Hugging Face hub stores most text datasets: CulturaX, FineWeb-2,
/// Wikipedia, its parquet conversions of mC4): one document per row of the top-level <c>"text"</c> column, in row order
/// over every row group; other columns are ignored.
/// </summary>
/// <remarks>
/// The column is read as raw bytes and decoded as strict UTF-8, so invalid bytes are an error naming the row, as
/// in the jsonl reader, instead of a silently replaced character (Parquet.Net's own string decoding would replace it).
/// A string (UTF8-annotated) or plain binary column is accepted; a null text is an error naming the row.
/// </remarks>
static class ParquetCorpus
{
    const string Column = "text";
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The documents one row group at a time: a stream holds one group's column, never the whole file's.</summary>
    public static IEnumerable<string> Documents(string path)
    {
        using var groups = RowGroups(path).GetEnumerator();
        while (true)
        {
            bool more;
            try
            {
                more = groups.MoveNext();
            }
            catch (IOException e) when (e.Message.StartsWith("not a parquet file", StringComparison.OrdinalIgnoreCase))
            {
                throw new CorpusFormatException(path, "not a Parquet file (it must start and end with the PAR1 marker); it is truncated or in another format: download or export it again");
            }
            catch (Exception e) when (e is not (CorpusFormatException or OutOfMemoryException or FileNotFoundException or UnauthorizedAccessException))
            {
                // Anything else Parquet.Net throws comes from bytes it could not make sense of (thrift footer, page headers, compression).
                throw new CorpusFormatException(path, $"the Parquet data cannot be read ({e.GetType().Name}: {e.Message}); the file is corrupt: download or export it again");
            }
            if (!more) yield break;
            foreach (var document in groups.Current) yield return document;
        }
    }

    static IEnumerable<List<string>> RowGroups(string path)
    {
        var reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        try
        {
            var field = TextField(reader.Schema, path);
            // Read the byte arrays behind the column whatever its logical type: a field of the same path in a schema of its own.
            var raw = new DataField(field.Name, typeof(byte[]), isNullable: field.IsNullable);
            _ = new ParquetSchema(raw);
            long row = 0;
            for (var group = 0; group < reader.RowGroupCount; group++)
            {
                var documents = new List<string>();
                using (var rowGroup = reader.OpenRowGroupReader(group))
                {
                    var count = checked((int)rowGroup.RowCount);
                    var values = new ReadOnlyMemory<byte>[count];
                    var definitions = new int[count];
                    rowGroup.ReadRawAsync<ReadOnlyMemory<byte>>(raw, values, definitions, null).GetAwaiter().GetResult();
                    // Values are packed: the i-th non-null value belongs to the i-th row whose definition level is set.
                    var next = 0;
                    for (var i = 0; i < count; i++, row++)
                    {
                        if (field.IsNullable && definitions[i] == 0)
                            throw new CorpusFormatException(path, $"row {row}: \"{Column}\" is null; every row must hold a document");
                        try
                        {
                            documents.Add(StrictUtf8.GetString(values[next++].Span));
                        }
                        catch (DecoderFallbackException e)
                        {
                            throw new CorpusFormatException(path, $"row {row}: \"{Column}\" is not valid UTF-8 (byte {e.Index}); the text was stored in another encoding");
                        }
                    }
                }
                yield return documents;
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    static DataField TextField(ParquetSchema schema, string path)
    {
        var field = schema.Fields.FirstOrDefault(f => f.Name == Column);
        if (field is not DataField data)
            throw new CorpusFormatException(path, field is null
                ? $"no top-level \"{Column}\" column (columns: {string.Join(", ", schema.Fields.Select(f => f.Name))}); a corpus needs one document per row in \"{Column}\""
                : $"\"{Column}\" is a nested {field.SchemaType} column; it must be a plain string column");
        if (data.IsArray)
            throw new CorpusFormatException(path, $"\"{Column}\" is a list column; it must hold one string per row");
        if (data.ClrType != typeof(string) && data.ClrType != typeof(ReadOnlyMemory<char>) && data.ClrType != typeof(byte[]) && data.ClrType != typeof(ReadOnlyMemory<byte>))
            throw new CorpusFormatException(path, $"\"{Column}\" holds {data.ClrType.Name} values, not strings");
        return data;
    }
}
