using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Evaluation;

public sealed class LanguageCorpusTextTests
{
    static readonly Corpus Documents = new("sw", [.. Enumerable.Range(0, 20).Select(i => $"hati ya {i:D2}.")], "memory");   // 11 bytes each

    [Test]
    public void Takes_the_fewest_leading_documents_that_give_the_windows()
    {
        // BOS + k documents of 11 tokens + (k − 1) separators of 2 tokens = 13k − 1 tokens; 3 windows of 16 need 48 → k = 4.
        var text = LanguageCorpusText.Leading(Documents, new ByteTokenizer(), new PerplexityOptions(Seqlen: 16), windows: 3);
        Assert.That((text.Documents, text.Tokens, text.AvailableWindows), Is.EqualTo((4, 51, 3)));
        Assert.That(text.Text, Is.EqualTo(string.Join("\n\n", Documents.Documents.Take(4))));
        Assert.That(text.TextSha256, Is.EqualTo(Corpus.HashText(text.Text)));
        Assert.That((text.Language, text.SourcePath), Is.EqualTo(("sw", "memory")));
    }

    [Test]
    public void Per_window_bos_needs_seqlen_minus_one_text_tokens_per_window()
    {
        // No BOS in the stream: 13k − 2 tokens; 3 windows of 15 text tokens need 45 → k = 4 (50).
        var text = LanguageCorpusText.Leading(Documents, new ByteTokenizer(), new PerplexityOptions(16, BosPolicy: BosPolicy.PerWindow), 3);
        Assert.That((text.Documents, text.Tokens, text.AvailableWindows), Is.EqualTo((4, 50, 3)));
    }

    [Test]
    public void A_small_corpus_gives_all_its_documents_and_fewer_windows()
    {
        var text = LanguageCorpusText.Leading(Documents, new ByteTokenizer(), new PerplexityOptions(Seqlen: 64), windows: 10);
        Assert.That((text.Documents, text.Tokens, text.AvailableWindows), Is.EqualTo((20, 13 * 20 - 1, 4)));
    }

    [Test]
    public void Evaluating_it_records_its_hash()
    {
        var text = LanguageCorpusText.Leading(Documents, new ByteTokenizer(), new PerplexityOptions(Seqlen: 16), windows: 3);
        var result = new WindowedPerplexity(new UniformModel(259), new ByteTokenizer(), new PerplexityOptions(16)).Evaluate(text);
        Assert.That((result.TextSha256, result.Language, result.Windows), Is.EqualTo((text.TextSha256, "sw", 3)));
    }
}
