using System.Globalization;
using System.IO.Compression;
using System.Text.Encodings.Web;
using System.Text.Json;
using Repro.Core.Corpora;

namespace Repro.Core.Tasks;

/// <summary>
/// Reads and writes Belebele files: jsonl (optionally .jsonl.gz), one object per line with <c>link</c>,
/// <c>question_number</c>, <c>flores_passage</c>, <c>question</c>, <c>mc_answer1</c>..<c>mc_answer4</c>,
/// <c>correct_answer_num</c>, <c>dialect</c>, <c>ds</c> — the layout of the Hugging Face dataset files, where
/// question_number is a number and correct_answer_num a string; Repro's own Belebele-style files use the same
/// layout, so one reader serves both. Other fields are ignored; a missing or mistyped field is an error that
/// names the file, line and field.
/// </summary>
public static class BelebeleReader
{
    public static IReadOnlyList<string> Fields { get; } =
        ["link", "question_number", "flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4",
         "correct_answer_num", "dialect", "ds"];

    public static List<BelebeleItem> Read(string path)
    {
        if (!File.Exists(path)) throw new TaskFormatException(path, "the task file does not exist");
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase))
            throw new TaskFormatException(path, "unknown task format; use Belebele's .jsonl (or .jsonl.gz)");
        try
        {
            using var stream = GzipFile.OpenMaybe(path);
            var items = new List<BelebeleItem>();
            foreach (var (number, line) in Utf8Lines.Read(stream, path))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                items.Add(Parse(line, path, number));
            }
            if (items.Count == 0) throw new TaskFormatException(path, "the file holds no items");
            return items;
        }
        catch (CorpusFormatException e)
        {
            throw new TaskFormatException(path, e.Problem);
        }
        catch (InvalidDataException e)
        {
            throw new TaskFormatException(path, $"truncated or corrupt gzip file ({e.Message})");
        }
    }

    static BelebeleItem Parse(string line, string path, int number)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new TaskFormatException(path, $"line {number}: not valid JSON ({e.Message}); each line must be one Belebele item object");
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TaskFormatException(path, $"line {number}: expected a JSON object, found a {root.ValueKind}");
            if (JsonStrings.FindInvalid(root) is { } invalid)
                throw new TaskFormatException(path, $"line {number}: {invalid}");
            string Text(string field)
            {
                if (!root.TryGetProperty(field, out var value))
                    throw new TaskFormatException(path, $"line {number}: no \"{field}\" field; a Belebele item has {string.Join(", ", Fields)}");
                return value.ValueKind == JsonValueKind.String
                    ? value.GetString()!
                    : throw new TaskFormatException(path, $"line {number}: \"{field}\" is a {value.ValueKind}, expected a string");
            }
            var link = Text("link");
            var questionNumber = root.TryGetProperty("question_number", out var q)
                ? q.ValueKind switch
                {
                    JsonValueKind.Number when q.TryGetInt32(out var n) => n,
                    JsonValueKind.String when int.TryParse(q.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) => n,
                    _ => throw new TaskFormatException(path, $"line {number}: \"question_number\" is {q.GetRawText()}, expected an integer"),
                }
                : throw new TaskFormatException(path, $"line {number}: no \"question_number\" field");
            var passage = Text("flores_passage");
            var question = Text("question");
            string[] answers = [Text("mc_answer1"), Text("mc_answer2"), Text("mc_answer3"), Text("mc_answer4")];
            var correct = root.TryGetProperty("correct_answer_num", out var c) ? c : default;
            var correctText = correct.ValueKind switch
            {
                JsonValueKind.String => correct.GetString()!,
                JsonValueKind.Undefined => throw new TaskFormatException(path, $"line {number}: no \"correct_answer_num\" field"),
                _ => throw new TaskFormatException(path,
                    $"line {number}: \"correct_answer_num\" is {correct.GetRawText()}; Belebele stores it as a string \"1\"..\"4\""),
            };
            if (correctText is not ("1" or "2" or "3" or "4"))
                throw new TaskFormatException(path, $"line {number}: \"correct_answer_num\" is \"{correctText}\", expected \"1\", \"2\", \"3\" or \"4\"");
            return new BelebeleItem(link, questionNumber, passage, question, answers, correctText, Text("dialect"), Text("ds"));
        }
    }

    /// <summary>Items as Belebele jsonl, fields in the dataset's order, non-ASCII text unescaped.</summary>
    public static byte[] JsonLines(IEnumerable<BelebeleItem> items)
    {
        using var buffer = new MemoryStream();
        foreach (var item in items)
        {
            if (item.Answers.Count != 4) throw new ArgumentException($"item {item.QuestionNumber} has {item.Answers.Count} answers; Belebele items have 4");
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartObject();
                w.WriteString("link", item.Link);
                w.WriteNumber("question_number", item.QuestionNumber);
                w.WriteString("flores_passage", item.FloresPassage);
                w.WriteString("question", item.Question);
                for (var i = 0; i < 4; i++) w.WriteString($"mc_answer{i + 1}", item.Answers[i]);
                w.WriteString("correct_answer_num", item.CorrectAnswerNum);
                w.WriteString("dialect", item.Dialect);
                w.WriteString("ds", item.Ds);
                w.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
        }
        return buffer.ToArray();
    }
}
