using System.IO.Compression;
using Repro.Core.Tasks;
using Repro.Core.Tests.Corpora;

namespace Repro.Core.Tests.Tasks;

public sealed class BelebeleReaderTests
{
    // Written for this test in the layout of the facebook/belebele jsonl files (question_number a number,
    // correct_answer_num a string); not items of the real dataset.
    const string Sample =
        """
        {"link": "https://example.org/wiki/Lighthouses", "question_number": 1, "flores_passage": "The lighthouse on the northern cape was built in 1874. Its lamp burned whale oil until the keepers switched to kerosene twenty years later.", "question": "What did the lamp burn first?", "mc_answer1": "Kerosene", "mc_answer2": "Whale oil", "mc_answer3": "Coal gas", "mc_answer4": "Electricity", "correct_answer_num": "2", "dialect": "eng_Latn", "ds": "2023-05-03"}
        {"link": "https://example.org/wiki/Lighthouses", "question_number": 2, "flores_passage": "The lighthouse on the northern cape was built in 1874. Its lamp burned whale oil until the keepers switched to kerosene twenty years later.", "question": "  When did the keepers switch fuels?  ", "mc_answer1": "In 1874", "mc_answer2": "In 1864", "mc_answer3": "Around 1894", "mc_answer4": "Never", "correct_answer_num": "3", "dialect": "eng_Latn", "ds": "2023-05-03"}
        {"link": "https://example.org/wiki/Mwezi", "question_number": 1, "flores_passage": "Mwezi huzunguka dunia mara moja kila siku ishirini na tisa na nusu.", "question": "Mwezi huzunguka nini?", "mc_answer1": "Dunia", "mc_answer2": "Jua", "mc_answer3": "Nyota", "mc_answer4": "Bahari", "correct_answer_num": "1", "dialect": "swh_Latn", "ds": "2023-05-03", "extra_field": true}

        """;

    static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    [Test]
    public void Items_in_the_real_Belebele_layout_are_read_with_their_gold_index()
    {
        using var dir = new TempFolder();
        var items = BelebeleReader.Read(dir.File("eng_Latn.jsonl", Sample));
        Assert.That(items, Has.Count.EqualTo(3));
        Assert.That(items.Select(i => i.GoldIndex), Is.EqualTo(new[] { 1, 2, 0 }));
        Assert.That(items[0].Answers, Is.EqualTo(new[] { "Kerosene", "Whale oil", "Coal gas", "Electricity" }));
        Assert.That(items[1].QuestionNumber, Is.EqualTo(2));
        Assert.That(items[2].Dialect, Is.EqualTo("swh_Latn"));
        Assert.That(items[0].Ds, Is.EqualTo("2023-05-03"));
    }

    [Test]
    public void Gzipped_files_are_read_too_and_what_the_writer_writes_reads_back_the_same()
    {
        using var dir = new TempFolder();
        var items = BelebeleReader.Read(dir.File("a.jsonl", Sample));
        var path = dir.File("b.jsonl.gz");
        File.WriteAllBytes(path, Gzip(BelebeleReader.JsonLines(items)));
        var again = BelebeleReader.Read(path);
        Assert.That(again.Select(Flatten), Is.EqualTo(items.Select(Flatten)));

        static string Flatten(BelebeleItem i) => $"{i with { Answers = [] }}|{string.Join("|", i.Answers)}";
    }

    [TestCase("{\"link\": \"l\", \"question_number\": 1}", "line 1: no \"flores_passage\" field")]
    [TestCase("[1, 2]", "line 1: expected a JSON object")]
    [TestCase("{not json", "line 1: not valid JSON")]
    public void Broken_items_name_the_file_line_and_problem(string line, string problem)
    {
        using var dir = new TempFolder();
        var path = dir.File("x.jsonl", line + "\n");
        var e = Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": " + problem));
    }

    [TestCase("\"5\"", "\"correct_answer_num\" is \"5\"")]
    [TestCase("2", "Belebele stores it as a string")]
    public void A_correct_answer_outside_1_to_4_or_not_a_string_is_rejected(string value, string problem)
    {
        using var dir = new TempFolder();
        var line = Sample.Split('\n')[0].Replace("\"correct_answer_num\": \"2\"", $"\"correct_answer_num\": {value}");
        var path = dir.File("x.jsonl", line + "\n");
        var e = Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(path));
        Assert.That(e!.Message, Does.Contain(problem).And.Contain("line 1"));
    }

    [Test]
    public void A_task_file_cut_mid_line_is_reported_as_truncated_not_as_bad_json()
    {
        using var dir = new TempFolder();
        var items = BelebeleReader.Read(dir.File("a.jsonl", Sample));
        var path = dir.File("b.jsonl.gz");
        var bytes = Gzip(BelebeleReader.JsonLines(items));
        File.WriteAllBytes(path, bytes[..(bytes.Length - 12)]);
        var e = Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": truncated or corrupt gzip file").And.Contain("ends early"));
    }

    [Test]
    public void A_missing_file_or_a_corrupt_gzip_is_named()
    {
        using var dir = new TempFolder();
        Assert.That(Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(Path.Combine(dir.Path, "none.jsonl")))!.Message, Does.Contain("does not exist"));
        var gz = dir.File("bad.jsonl.gz", "not gzip");
        Assert.That(Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(gz))!.Message, Does.StartWith(gz).And.Contain("gzip"));
    }
}
