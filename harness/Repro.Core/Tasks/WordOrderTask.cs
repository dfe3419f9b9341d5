using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Fixtures;

namespace Repro.Core.Tasks;

/// <summary>How the three distractors of a <see cref="WordOrderTask"/> item are made from the true continuation.</summary>
public enum WordOrderCorruption
{
    /// <summary>Each distractor is the sentence with one pair of adjacent words swapped (a different pair each).</summary>
    SwapOne,

    /// <summary>Each distractor is the sentence with two pairs of adjacent words swapped, one after the other.</summary>
    SwapTwo,

    /// <summary>Each distractor is the sentence's words in a random order.</summary>
    Shuffle,

    /// <summary>Each distractor is the sentence with a random span of three to five words in reverse order.</summary>
    ReverseSpan,

    /// <summary>
    /// Sentence order instead of word order: the answer is the next three sentences of the document, each distractor
    /// the same three sentences in another order.
    /// </summary>
    SentenceOrder,
}

/// <summary>
/// Repro's second fixture reading task, HellaSwag-style: the passage is the sentence before a sentence of a held-out
/// document (the test split of its own corpora), the question asks which sentence continues it, the right answer is
/// that sentence, and the three distractors are the same sentence with its words in a wrong order. Why: the
/// Belebele-style task (<see cref="BelebeleStyleTask"/>) asks the model to tell the next sentence from sentences of other
/// documents, which the fixture models cannot (they score at chance there); telling a sentence from a corrupted copy of
/// itself needs only knowledge of the language, which a small model trained on it has and pruning can damage.
/// The committed task (<see cref="Committed"/>) reverses a run of three to five adjacent words, a different run in each
/// distractor, chosen by measurement (fixtures/tasks/word-order/PROVENANCE.md): one or two swaps of adjacent words left
/// the small fixture model below 50 % in Arabic and Russian, a full shuffle saturated it (90–100 %), and a reversed run
/// put every trained language of Kurz et al.'s set between about 50 and 90 %.
/// All four answers have the same characters, so answer length says nothing and acc equals acc_norm. The terminal
/// punctuation stays at the end (moving it would be a give-away of its own); in Chinese, which has no spaces, a "word"
/// is a character, and a run of non-Chinese text (a command name, a number) is one. A passage or answer that is also a
/// sentence of the language's train, calibration or validation split is not asked about. Sampling and corruption use
/// <see cref="SplitMix64"/> seeded by <see cref="SubSeed"/>("word-order", 0, dialect). Passage and answer together are
/// at most <see cref="MaxItemBytes"/> UTF-8 bytes (the fixture models' tokens), so nothing is cut in the small model's
/// 512-token window (the tiny model's 256-token window cuts passages from the left, as the harness does).
/// </summary>
public static class WordOrderTask
{
    public const string Name = "word-order";
    public const string Ds = "repro-word-order-v1";
    public const int MaxItemsPerLanguage = 200;

    /// <summary>The corruption of the committed task files.</summary>
    public const WordOrderCorruption Committed = WordOrderCorruption.ReverseSpan;

    /// <summary>Answers of fewer words than this are not asked about: a short sentence has too few pairs to swap.</summary>
    public const int MinWords = 6;

    /// <summary>Answer sentences shorter or longer than these (UTF-8 bytes) are not asked about.</summary>
    public const int MinAnswerBytes = 40, MaxAnswerBytes = 360;

    /// <summary>
    /// Passage (the one sentence before the answer), space and answer are at most this many UTF-8 bytes: with the BOS,
    /// within the small fixture model's 512-token window. A longer passage would slow scoring and tell little more.
    /// </summary>
    public const int MaxItemBytes = 510;

    /// <summary>Characters that end a sentence and stay at its end in every distractor.</summary>
    const string Terminal = ".!?؟…。！？:;：；\"'”’»)）」』";

    /// <param name="elsewhere">Sentences of the language's other splits (train, calibration, validation): a passage or
    ///   answer among them is not asked about. Documents never share splits, but short strings recur across documents
    ///   (Hebrew's language-pack messages, the handbook's stock phrases), and a model trained or calibrated on a
    ///   sentence must not be asked about it.</param>
    public static List<BelebeleItem> Build(FixtureLanguage language, IReadOnlyList<BuiltDocument> testDocuments,
                                           WordOrderCorruption corruption = Committed, int maxItems = MaxItemsPerLanguage,
                                           IReadOnlySet<string>? elsewhere = null)
    {
        var sentences = testDocuments.Select(d => SentenceSplitter.Split(d.Text)).ToList();
        var joiner = language.Code == "zh" ? "" : " ";
        var span = corruption == WordOrderCorruption.SentenceOrder ? 3 : 1;
        // Candidates: every askable sentence (run of sentences) after the first of its document. Neighbouring items
        // share sentences, as Belebele asks several questions about one passage.
        var candidates = new List<(int Doc, int Answer)>();
        for (var d = 0; d < sentences.Count; d++)
        {
            for (var i = 1; i + span <= sentences[d].Count; i++)
            {
                var answerSentences = sentences[d].Skip(i).Take(span).ToList();
                if (!answerSentences.All(s => Askable(language, s, span == 1 ? MinWords : 2))) continue;
                var answerBytes = Bytes(string.Join(joiner, answerSentences));
                if (answerBytes < MinAnswerBytes || answerBytes > MaxAnswerBytes) continue;
                if (Bytes(sentences[d][i - 1]) + 1 + answerBytes > MaxItemBytes) continue;
                if (elsewhere is not null && sentences[d].Skip(i - 1).Take(span + 1).Any(elsewhere.Contains)) continue;
                candidates.Add((d, i));
            }
        }
        var rng = new SplitMix64(SubSeed.Derive(Name, 0, language.Dialect));
        if (candidates.Count > maxItems)
            candidates = [.. rng.SampleWithoutReplacement(candidates.Count, maxItems).Select(k => candidates[k])];

        var items = new List<BelebeleItem>();
        foreach (var (doc, answer) in candidates)
        {
            var parts = sentences[doc].Skip(answer).Take(span).ToList();
            var correct = string.Join(joiner, parts);
            var distractors = Distractors(language, parts, joiner, correct, corruption, rng);
            if (distractors is null) continue;     // too few distinct corruptions (repeated words): no item
            var position = (int)rng.NextBelow(4);
            var answers = new List<string>(distractors);
            answers.Insert(position, correct);
            var passage = sentences[doc][answer - 1];
            items.Add(new BelebeleItem(BelebeleStyleTask.LinkOf(testDocuments[doc].Key, language), items.Count + 1, passage,
                language.Question, answers, $"{position + 1}", language.Dialect, Ds));
        }
        return items;
    }

    static int Bytes(string s) => Encoding.UTF8.GetByteCount(s);

    /// <summary>Prose, not a table row or a command line: letters make at least half of it, and it has enough words.</summary>
    static bool Askable(FixtureLanguage language, string s, int minWords) =>
        s.EnumerateRunes().Count(Rune.IsLetter) * 2 >= s.Length && !s.Contains("  ", StringComparison.Ordinal)
        && Words(language, s).Words.Count >= minWords;

    /// <summary>
    /// The sentence without its terminal punctuation, cut into the units that corruption moves, and that
    /// punctuation: words between spaces, or in Chinese each character, a run of non-Chinese text (with its spaces)
    /// being one unit.
    /// </summary>
    public static (List<string> Words, string End) Words(FixtureLanguage language, string sentence)
    {
        var cut = sentence.Length;
        while (cut > 0 && Terminal.Contains(sentence[cut - 1])) cut--;
        var body = sentence[..cut];
        var end = sentence[cut..];
        if (language.Code != "zh") return ([.. body.Split(' ', StringSplitOptions.RemoveEmptyEntries)], end);
        var units = new List<string>();
        var run = new StringBuilder();
        foreach (var rune in body.EnumerateRunes())
        {
            if (IsCjk(rune))
            {
                if (run.Length > 0) units.Add(run.ToString());
                run.Clear();
                units.Add(rune.ToString());
            }
            else run.Append(rune.ToString());
        }
        if (run.Length > 0) units.Add(run.ToString());
        return (units, end);
    }

    static bool IsCjk(Rune r) => r.Value is >= 0x2E80 and <= 0x9FFF or >= 0xF900 and <= 0xFAFF or >= 0xFF00 and <= 0xFFEF or >= 0x20000;

    static List<string>? Distractors(FixtureLanguage language, List<string> parts, string joiner, string correct,
                                     WordOrderCorruption corruption, SplitMix64 rng)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { correct };
        var distractors = new List<string>();
        if (corruption == WordOrderCorruption.SentenceOrder)
        {
            int[][] orders = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
            var shuffled = Enumerable.Range(0, orders.Length).ToArray();
            for (var k = shuffled.Length - 1; k > 0; k--)
            {
                var j = (int)rng.NextBelow(k + 1);
                (shuffled[k], shuffled[j]) = (shuffled[j], shuffled[k]);
            }
            foreach (var k in shuffled)
            {
                var text = string.Join(joiner, orders[k].Select(j => parts[j]));
                if (seen.Add(text)) distractors.Add(text);
                if (distractors.Count == 3) return distractors;
            }
            return null;
        }
        var (words, end) = Words(language, parts[0]);
        var spaced = language.Code != "zh";
        for (var attempt = 0; attempt < 50 && distractors.Count < 3; attempt++)
        {
            var w = new List<string>(words);
            switch (corruption)
            {
                case WordOrderCorruption.SwapOne:
                case WordOrderCorruption.SwapTwo:
                    for (var s = 0; s < (corruption == WordOrderCorruption.SwapOne ? 1 : 2); s++)
                    {
                        var i = (int)rng.NextBelow(w.Count - 1);
                        (w[i], w[i + 1]) = (w[i + 1], w[i]);
                    }
                    break;
                case WordOrderCorruption.Shuffle:
                    for (var k = w.Count - 1; k > 0; k--)
                    {
                        var j = (int)rng.NextBelow(k + 1);
                        (w[k], w[j]) = (w[j], w[k]);
                    }
                    break;
                case WordOrderCorruption.ReverseSpan:
                    var length = (int)Math.Min(w.Count, 3 + rng.NextBelow(3));
                    var start = (int)rng.NextBelow(w.Count - length + 1);
                    w.Reverse(start, length);
                    break;
            }
            var text = string.Join(spaced ? " " : "", w) + end;
            if (seen.Add(text)) distractors.Add(text);
        }
        return distractors.Count == 3 ? distractors : null;
    }

    /// <summary>Task file of one language: <c>{dir}/{dialect}.jsonl.gz</c>, as Belebele names them.</summary>
    public static string FileName(FixtureLanguage language) => $"{language.Dialect}.jsonl.gz";

    /// <summary>
    /// The documents of one committed corpus file (<c>{"text": ..., "id": ...}</c> lines, as
    /// <see cref="CorpusFixtureWriter"/> writes them), with their keys, which the task's links need.
    /// </summary>
    public static List<BuiltDocument> ReadDocuments(string path)
    {
        using var stream = GzipFile.OpenMaybe(path);
        var documents = new List<BuiltDocument>();
        foreach (var (number, line) in Utf8Lines.Read(stream, path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = JsonDocument.Parse(line);
            string Field(string name) => json.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()!
                : throw new CorpusFormatException(path, $"line {number}: no string \"{name}\" field; Repro's corpus files have \"text\" and \"id\"");
            documents.Add(new BuiltDocument(Field("id"), Field("text")));
        }
        return documents;
    }

    /// <summary>Every sentence of a language's splits other than test, for <see cref="Build"/>'s <c>elsewhere</c>.</summary>
    public static HashSet<string> SentencesElsewhere(string corpora, FixtureLanguage language) =>
    [
        .. DocumentSplit.Names.Where(split => split != DocumentSplit.Test)
            .Select(split => Path.Combine(corpora, language.Code, $"{split}.jsonl.gz")).Where(File.Exists)
            .SelectMany(ReadDocuments).SelectMany(d => SentenceSplitter.Split(d.Text)),
    ];

    /// <summary>
    /// Builds the task for every fixture language from <c>{corpora}/{lang}/test.jsonl.gz</c>, leaving out sentences that
    /// also occur in its other splits, and writes it to
    /// <paramref name="directory"/> with a manifest.json (SHA-256 per file). Returns (dialect, item count) per file.
    /// </summary>
    public static List<(string Dialect, int Items)> WriteAll(string corpora, string directory, WordOrderCorruption corruption = Committed)
    {
        Directory.CreateDirectory(directory);
        var written = new List<(string Dialect, int Items, string Sha256)>();
        foreach (var language in FixtureLanguage.All)
        {
            var source = Path.Combine(corpora, language.Code, "test.jsonl.gz");
            var path = Path.Combine(directory, FileName(language));
            var items = File.Exists(source) ? Build(language, ReadDocuments(source), corruption, elsewhere: SentencesElsewhere(corpora, language)) : [];
            if (items.Count == 0)
            {
                if (File.Exists(path)) File.Delete(path);
                continue;
            }
            var bytes = DeterministicGzip.Compress(BelebeleReader.JsonLines(items));
            WriteIfChanged(path, bytes);
            written.Add((language.Dialect, items.Count, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        }
        var manifest = new StringBuilder("{\n  \"generator\": \"repro fixtures build-task\",\n  \"files\": [\n");
        manifest.AppendJoin(",\n", written.Select(w => $"    {{\"path\": \"{w.Dialect}.jsonl.gz\", \"dialect\": \"{w.Dialect}\", \"items\": {w.Items}, \"sha256\": \"{w.Sha256}\"}}"));
        manifest.Append("\n  ]\n}\n");
        WriteIfChanged(Path.Combine(directory, "manifest.json"), Encoding.UTF8.GetBytes(manifest.ToString()));
        return [.. written.Select(w => (w.Dialect, w.Items))];
    }

    static void WriteIfChanged(string path, byte[] bytes)
    {
        if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) File.WriteAllBytes(path, bytes);
    }
}
