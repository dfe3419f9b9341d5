using System.Text.Json.Nodes;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Tokenizers;

public sealed class TokenizerLoaderTests
{
    const string Sample = "Hello, мир! مرحبا 你好 😀<|eos|>";

    [Test]
    public void Written_hf_files_load_back_as_the_byte_tokenizer()
    {
        using var dir = new TempFolder();
        var original = new ByteTokenizer(vocabSize: 261);
        original.WriteHfFiles(dir.Path);
        var loaded = TokenizerLoader.FromFolder(dir.Path);
        Assert.That(loaded, Is.TypeOf<ByteTokenizer>());
        Assert.That((loaded.VocabSize, loaded.BosId, loaded.EosId), Is.EqualTo((261, (int?)256, (int?)257)));
        Assert.That(loaded.Encode(Sample, true), Is.EqualTo(original.Encode(Sample, true)).Using<TokenizedText>(SameTokens));
    }

    [Test]
    public void Written_hf_files_are_a_genuine_byte_level_bpe()
    {
        using var dir = new TempFolder();
        new ByteTokenizer().WriteHfFiles(dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "tokenizer.json")))!;
        Assert.That((string?)json["model"]!["type"], Is.EqualTo("BPE"));
        Assert.That(json["model"]!["vocab"]!.AsObject().Count, Is.EqualTo(256));
        Assert.That((int)json["model"]!["vocab"]!["Ġ"]!, Is.EqualTo(32));
        Assert.That(json["model"]!["merges"]!.AsArray(), Is.Empty);
        Assert.That(json["added_tokens"]!.AsArray().Select(t => (string?)t!["content"]), Is.EqualTo(new[] { "<|bos|>", "<|eos|>", "<|pad|>" }));
        Assert.That((string?)json["pre_tokenizer"]!["type"], Is.EqualTo("ByteLevel"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "tokenizer_config.json")))!;
        Assert.That(((string?)config["bos_token"], (string?)config["eos_token"]), Is.EqualTo(("<|bos|>", "<|eos|>")));
        Assert.That(File.Exists(Path.Combine(dir.Path, "special_tokens_map.json")));
    }

    [Test]
    public void The_general_bpe_reads_the_written_files_to_the_same_ids()
    {
        // The same folder through Microsoft.ML.Tokenizers' BPE: a cross-check that the files say what ByteTokenizer does.
        using var dir = new TempFolder();
        var original = new ByteTokenizer();
        original.WriteHfFiles(dir.Path);
        var general = ByteLevelBpeTokenizer.FromFolder(dir.Path);
        Assert.That(general.Encode(Sample, true), Is.EqualTo(original.Encode(Sample, true)).Using<TokenizedText>(SameTokens));
        Assert.That(general.Decode(original.Encode(Sample, true).Ids), Is.EqualTo("<|bos|>" + Sample));
    }

    [Test]
    public void A_byte_tokenizer_without_default_bos_stays_so()
    {
        using var dir = new TempFolder();
        new ByteTokenizer(addsBos: false).WriteHfFiles(dir.Path);
        var loaded = (ByteTokenizer)TokenizerLoader.FromFolder(dir.Path);
        Assert.That((loaded.BosId, loaded.BosTokenId), Is.EqualTo(((int?)null, (int?)256)));
    }

    [Test]
    public void A_folder_without_tokenizer_files_lists_what_it_found()
    {
        using var dir = new TempFolder();
        dir.File("config.json", "{}");
        Assert.That(() => TokenizerLoader.FromFolder(dir.Path), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(dir.Path).And.Message.Contain("no tokenizer.json or tokenizer.model").And.Message.Contain("config.json"));
    }

    [Test]
    public void A_wordpiece_tokenizer_is_rejected_by_name()
    {
        using var dir = new TempFolder();
        dir.File("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}");
        Assert.That(() => TokenizerLoader.FromFolder(dir.Path), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.Contain("tokenizer.json").And.Message.Contain("'WordPiece'"));
    }

    [Test]
    public void Sentencepiece_style_bpe_whose_byte_fallback_lacks_byte_pieces_is_refused_naming_the_piece()
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json", "{\"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {}, \"merges\": []}}");
        Assert.That(() => TokenizerLoader.FromFolder(dir.Path), Throws.TypeOf<TokenizerFormatException>()
            .With.Message.StartWith(path).And.Message.Contain("no piece <0x00>"));
    }

    [Test]
    public void Invalid_json_names_the_file()
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json", "{\"model\": ");
        Assert.That(() => TokenizerLoader.FromFolder(dir.Path), Throws.TypeOf<TokenizerFormatException>().With.Message.StartWith(path));
    }

    static bool SameTokens(TokenizedText a, TokenizedText b) => a.Ids.SequenceEqual(b.Ids) && a.Spans.SequenceEqual(b.Spans);
}
