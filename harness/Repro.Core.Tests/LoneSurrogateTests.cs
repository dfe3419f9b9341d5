using System.Text;
using Repro.Core.Checkpoints;
using Repro.Core.Corpora;
using Repro.Core.Tasks;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests;

/// <summary>
/// An escaped lone surrogate (<c>"\udc00"</c>) is valid JSON syntax but not text. Every JSON file Repro reads from a
/// user refuses it as bad input naming the file (and where in it), instead of an InvalidOperationException from
/// wherever the string is first read.
/// </summary>
public sealed class LoneSurrogateTests
{
    const string Lone = "\\udc00";

    [Test]
    public void A_corpus_line_with_a_lone_surrogate_names_the_file_and_line()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"bad " + Lone + " text\"}\n");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": line 2: the \"text\" string is not valid Unicode text").And.Contain("surrogate"));
    }

    [Test]
    public void A_lone_surrogate_in_a_field_the_corpus_reader_ignores_does_no_harm()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl", "{\"text\": \"fine\", \"url\": \"x" + Lone + "\"}\n");
        Assert.That(CorpusReader.Read(path).Documents, Is.EqualTo(new[] { "fine" }));
    }

    [Test]
    public void A_task_line_with_a_lone_surrogate_names_the_file_line_and_field()
    {
        using var dir = new TempFolder();
        var line = "{\"link\": \"l\", \"question_number\": 1, \"flores_passage\": \"p\", \"question\": \"q" + Lone + "\", " +
                   "\"mc_answer1\": \"a\", \"mc_answer2\": \"b\", \"mc_answer3\": \"c\", \"mc_answer4\": \"d\", " +
                   "\"correct_answer_num\": \"1\", \"dialect\": \"eng_Latn\", \"ds\": \"2023\"}";
        var path = dir.File("eng_Latn.jsonl", line + "\n");
        var e = Assert.Throws<TaskFormatException>(() => BelebeleReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": line 1: the string at $.question is not valid Unicode text"));
    }

    [TestCase("{\"model_type\": \"llama" + Lone + "\"}", "the string at $.model_type")]
    [TestCase("{\"rope_scaling\": {\"x" + Lone + "\": 1}}", "a property name is not valid Unicode text")]
    public void A_config_json_with_a_lone_surrogate_is_refused_naming_where(string json, string where)
    {
        using var dir = new TempFolder();
        var path = dir.File("config.json", json);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.ReadConfig(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": config.json: " + where).And.Contain("not valid Unicode text"));
    }

    [Test]
    public void A_tokenizer_json_with_a_lone_surrogate_in_its_vocabulary_is_refused()
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b" + Lone + "\": 1}, \"merges\": []}}");
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizerFiles.ReadObject(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": a property name in $.model.vocab is not valid Unicode text"));
    }

    [TestCase("{\"__metadata__\": {\"format\": \"pt" + Lone + "\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
              "the string at $.__metadata__.format")]
    [TestCase("{\"w" + Lone + "\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "a property name in $")]
    public void A_safetensors_header_with_a_lone_surrogate_is_refused(string header, string where)
    {
        using var dir = new TempFolder();
        var path = dir.File("model.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, 0, 0, 128, 63]);
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose())!;
        Assert.That(e.Message, Does.StartWith(path + ": header: " + where).And.Contain("not valid Unicode text"));
    }

    [TestCase("{\"weight_map\": {\"w\": \"model-00001" + Lone + ".safetensors\"}}", "the string at $.weight_map.w")]
    [TestCase("{\"weight_map\": {\"w" + Lone + "\": \"model-00001.safetensors\"}}", "a property name is not valid Unicode text")]
    [TestCase("{\"metadata\": {\"total_size\": \"" + Lone + "\"}, \"weight_map\": {}}", "the string at $.metadata.total_size")]
    public void A_safetensors_index_with_a_lone_surrogate_is_refused_naming_where(string index, string where)
    {
        using var dir = new TempFolder();
        dir.File("config.json", "{\"model_type\": \"llama\"}");
        var path = dir.File(HfCheckpoint.IndexFileName, index);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path).Dispose())!;
        Assert.That(e.Message, Does.StartWith(path + ": index: " + where).And.Contain("not valid Unicode text"));
    }
}
