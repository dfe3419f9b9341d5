using System.Text;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Evaluation;

public sealed class WindowedPerplexityTests
{
    const string Multilingual = "The quick brown fox. Быстрая лиса. الثعلب السريع. 敏捷的狐狸。 Mbweha mwepesi 🦊. ";
    static readonly string LongText = string.Concat(Enumerable.Repeat(Multilingual, 6));
    static readonly ByteTokenizer Bytes = new();
    static readonly ByteTokenizer BytesWithoutBos = new(addsBos: false);

    static PerplexityResult Evaluate(Repro.Core.Models.ILanguageModel model, ITextTokenizer tokenizer, string text, PerplexityOptions options,
                                     IProgress<EvalProgress>? progress = null) =>
        new WindowedPerplexity(model, tokenizer, options).Evaluate("xx", text, progress);

    [Test]
    public void Uniform_logits_give_the_vocabulary_size_and_log2_v_bits_per_token()
    {
        var result = Evaluate(new UniformModel(259), Bytes, LongText, new PerplexityOptions(Seqlen: 16));
        Assert.That(result.Perplexity, Is.EqualTo(259).Within(1e-9).Percent);
        Assert.That(result.BitsPerByte, Is.EqualTo(Math.Log2(259) * result.ScoredTokens / result.ScoredBytes).Within(1e-9).Percent);
        Assert.That(result.ScoredBytes, Is.Not.EqualTo(result.ScoredTokens), "multi-byte characters split at window edges should move bytes");
        Assert.That(result.IsFinite);
    }

    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16)]
    [TestCase(ScalarType.Float16)]
    public void Low_precision_logits_are_scored_in_float32(ScalarType dtype)
    {
        // float32 rounds ln V to 2^-21 relative, so exactness is 1e-6 here, 1e-9 only for float64 logits.
        var result = Evaluate(new UniformModel(259, dtype), Bytes, LongText, new PerplexityOptions(Seqlen: 16));
        Assert.That(result.Perplexity, Is.EqualTo(259).Within(1e-4).Percent);
    }

    [Test]
    public void A_known_next_token_distribution_gives_one_over_p_and_never_scores_a_window_start()
    {
        // Inside a window every token is next(previous); each window then starts with a "surprise" token that the
        // previous window's last token does not predict. If a window's first token were scored (by its own window
        // or as the target of the previous window's last position), perplexity would move away from 1/p.
        const double p = 0.8;
        var model = new NextTokenModel(259, p, id => id + 1);
        var result = Evaluate(model, BytesWithoutBos, "abcdklmnwxyz", new PerplexityOptions(Seqlen: 4));
        Assert.That((result.Windows, result.ScoredTokens), Is.EqualTo((3, 9L)));
        Assert.That(result.SumNllNats, Is.EqualTo(-9 * Math.Log(p)).Within(1e-9).Percent);
        Assert.That(result.Perplexity, Is.EqualTo(1 / p).Within(1e-9).Percent);
    }

    [Test]
    public void Windows_are_floor_of_tokens_over_seqlen_and_the_partial_tail_is_dropped()
    {
        var text = new string('a', 103);                         // + BOS = 104 tokens
        var model = new RecordingModel(new UniformModel(259));
        var result = Evaluate(model, Bytes, text, new PerplexityOptions(Seqlen: 10));
        Assert.That((result.Windows, result.AvailableWindows, result.ScoredTokens, result.ScoredBytes), Is.EqualTo((10, 10, 90L, 90L)));
        Assert.That(model.Rows[0][0], Is.EqualTo(256), "BOS opens the stream");
        Assert.That(model.Rows.Skip(1).Select(r => r[0]), Has.All.EqualTo('a'), "later windows start mid-stream without BOS");
    }

    [Test]
    public void Per_window_bos_prefixes_every_window_and_scores_every_text_token()
    {
        var text = string.Concat(Enumerable.Range(0, 103).Select(i => (char)('a' + i % 26)));
        var model = new RecordingModel(new UniformModel(259));
        var result = Evaluate(model, Bytes, text, new PerplexityOptions(Seqlen: 10, BosPolicy: BosPolicy.PerWindow));
        Assert.That((result.Windows, result.ScoredTokens, result.ScoredBytes), Is.EqualTo((11, 99L, 99L)));   // floor(103 / 9)
        Assert.That(model.Rows, Has.All.Matches<long[]>(r => r.Length == 10 && r[0] == 256));
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.That(model.Rows[3][1..], Is.EqualTo(bytes[27..36].Select(b => (long)b)));
        Assert.That(result.BosPolicy, Is.EqualTo(BosPolicy.PerWindow));
    }

    [Test]
    public void A_character_split_at_a_window_edge_counts_where_it_completes()
    {
        // 你好世界 is 12 byte tokens; each character's bytes go to its third token (2, 5, 8, 11).
        // Windows of 4 score tokens 1-3, 5-7, 9-11: 你 (2), 好 (5), 界 (11). 世 completes at token 8, a window start.
        var result = Evaluate(new UniformModel(259), BytesWithoutBos, "你好世界", new PerplexityOptions(Seqlen: 4));
        Assert.That((result.ScoredTokens, result.ScoredBytes), Is.EqualTo((9L, 9L)));
        var shifted = Evaluate(new UniformModel(259), BytesWithoutBos, "a你好世界", new PerplexityOptions(Seqlen: 4));
        // Shifted by one byte: characters complete at tokens 3, 6, 9, 12; 3 windows score 1-3, 5-7, 9-11 → 你, 好, 世.
        Assert.That((shifted.Windows, shifted.ScoredBytes), Is.EqualTo((3, 9L)));
    }

    [Test]
    public void The_first_windows_are_taken_without_a_seed()
    {
        var model = new RecordingModel(new UniformModel(259));
        var text = new string('a', 399);
        var result = Evaluate(model, Bytes, text, new PerplexityOptions(Seqlen: 10, NSamples: 4));
        Assert.That((result.Windows, result.AvailableWindows), Is.EqualTo((4, 40)));
        Assert.That(WindowedPerplexity.SelectWindows(40, 4, seed: null), Is.EqualTo(new[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void A_seed_picks_the_same_windows_every_time_and_another_seed_others()
    {
        // Window w of a stream of distinct tokens starts with a token that identifies it.
        var text = string.Concat(Enumerable.Range(0, 200).Select(i => (char)(0x4E00 + i)));   // 600 byte tokens
        string Chosen(int seed)
        {
            var model = new RecordingModel(new UniformModel(259));
            Evaluate(model, BytesWithoutBos, text, new PerplexityOptions(Seqlen: 6, NSamples: 8, Seed: seed));
            return string.Join(",", model.Rows.Select(r => string.Join(" ", r[..3])));
        }
        var first = Chosen(5);
        var again = Chosen(5);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(Chosen(6), Is.Not.EqualTo(first));
        var indices = WindowedPerplexity.SelectWindows(100, 8, 5);
        Assert.That(indices, Is.EqualTo(WindowedPerplexity.SelectWindows(100, 8, seed: 5)).And.Ordered.And.Unique);
        Assert.That(indices, Is.Not.EqualTo(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }));
    }

    [Test]
    public void Batch_size_does_not_change_the_result()
    {
        var model = new NextTokenModel(259, 0.3, id => (id * 7 + 3) % 259);
        PerplexityResult Run(int batch) => Evaluate(model, Bytes, LongText, new PerplexityOptions(Seqlen: 32, BatchSize: batch));
        var one = Run(1);
        foreach (var batch in new[] { 3, 7, 100 })
        {
            var other = Run(batch);
            Assert.That(other.SumNllNats, Is.EqualTo(one.SumNllNats).Within(1e-12).Percent, $"batch {batch}");
            Assert.That(other with { SumNllNats = 0, Perplexity = 0, BitsPerByte = 0 },
                        Is.EqualTo(one with { SumNllNats = 0, Perplexity = 0, BitsPerByte = 0 }), $"batch {batch}");
        }
    }

    [Test]
    public void Scoring_positions_in_slices_gives_what_scoring_them_whole_gives()
    {
        var model = new NextTokenModel(259, 0.3, id => (id * 7 + 3) % 259);
        var options = new PerplexityOptions(Seqlen: 32, BatchSize: 3);
        var whole = new WindowedPerplexity(model, Bytes, options).Evaluate("xx", LongText);
        // 259 × 3 × 5 floats: slices of 5 positions, the last one shorter, and one slice (31) that reaches position T-1.
        foreach (var elements in new long[] { 1, 259 * 3 * 5, 259 * 3 * 31 })
        {
            var sliced = new WindowedPerplexity(model, Bytes, options, sliceElements: elements).Evaluate("xx", LongText);
            Assert.That(sliced.SumNllNats, Is.EqualTo(whole.SumNllNats).Within(1e-12).Percent, $"{elements} elements");
            Assert.That(sliced with { SumNllNats = 0, Perplexity = 0, BitsPerByte = 0 },
                        Is.EqualTo(whole with { SumNllNats = 0, Perplexity = 0, BitsPerByte = 0 }), $"{elements} elements");
        }
        var text = new string('a', 25) + "!" + new string('a', 24);
        var nan = new WindowedPerplexity(new NaNModel(259, '!'), Bytes, new PerplexityOptions(Seqlen: 10), sliceElements: 259 * 2).Evaluate("xx", text);
        Assert.That((nan.Windows, nan.NonFiniteWindows), Is.EqualTo((5, 1)), "a non-finite slice marks its window");
    }

    [Test]
    public void A_real_model_runs_its_trunk_once_and_its_head_per_slice_with_the_same_perplexity()
    {
        using var scope = NewDisposeScope();
        var config = Models.TinyModels.Config(Repro.Core.Models.ModelFamily.Llama, j => j["vocab_size"] = 259);
        using var model = Models.TinyModels.Load(config, Models.TinyModels.Weights(config));
        var ids = tensor(Enumerable.Range(0, 2 * 12).Select(i => (long)(i * 5 % config.VocabSize)).ToArray()).view(2, 12);
        var whole = model.Logits(ids);
        var slices = ((Repro.Core.Models.ILanguageModel)model).LogitSlices(ids, 5).ToList();
        Assert.That(slices.Select(s => s.shape[1]), Is.EqualTo(new long[] { 5, 5, 2 }));
        Assert.That(Models.TinyModels.MaxAbsDiff(cat(slices, 1), whole), Is.LessThan(1e-5 * Models.TinyModels.MaxAbs(whole)));

        var text = string.Concat(Enumerable.Range(0, 400).Select(i => (char)('a' + i * 7 % 26)));
        var tokenizer = Bytes;
        var options = new PerplexityOptions(Seqlen: 16, BatchSize: 2);
        var one = new WindowedPerplexity(model, tokenizer, options).Evaluate("xx", text);
        var sliced = new WindowedPerplexity(model, tokenizer, options, sliceElements: 2L * config.VocabSize * 3).Evaluate("xx", text);
        // The head's products run on other shapes per slice: equal to float rounding.
        Assert.That(sliced.Perplexity, Is.EqualTo(one.Perplexity).Within(1e-4).Percent);
        Assert.That(sliced.ScoredTokens, Is.EqualTo(one.ScoredTokens));
    }

    /// <summary>The shape of every logit slice the real model's own <see cref="Repro.Core.Models.ILanguageModel.LogitSlices"/> yields.</summary>
    sealed class SliceShapes(Repro.Core.Models.ILanguageModel inner) : Repro.Core.Models.ILanguageModel
    {
        public List<(long Rows, long Positions, long Vocab, long Seqlen)> Slices { get; } = [];
        public int VocabSize => inner.VocabSize;
        public Device Device => inner.Device;
        public Tensor Logits(Tensor inputIds) => throw new InvalidOperationException("scoring must take the logits in slices");

        public IEnumerable<Tensor> LogitSlices(Tensor inputIds, int positions)
        {
            foreach (var slice in inner.LogitSlices(inputIds, positions))
            {
                Slices.Add((slice.shape[0], slice.shape[1], slice.shape[2], inputIds.shape[1]));
                yield return slice;
            }
        }
    }

    /// <summary>
    /// The memory bound eval ppl promises: no slice of logits holds more than sliceElements floats, unless one position of
    /// the batch alone is more (then a slice is one position); and each slice is as long as the budget allows, the
    /// batch's last one taking what is left.
    /// </summary>
    [Test]
    public void No_logit_slice_of_a_real_model_exceeds_the_slice_budget()
    {
        using var scope = NewDisposeScope();
        var config = Models.TinyModels.Config(Repro.Core.Models.ModelFamily.Llama, j => j["vocab_size"] = 259);
        using var model = Models.TinyModels.Load(config, Models.TinyModels.Weights(config));
        var text = string.Concat(Enumerable.Range(0, 400).Select(i => (char)('a' + i * 7 % 26)));
        var options = new PerplexityOptions(Seqlen: 16, BatchSize: 3);
        var vocab = (long)config.VocabSize;
        // 3·V·5: five positions of a full batch; +100 does not reach six; V: less than one position of a full batch.
        foreach (var budget in new[] { 3 * vocab * 5, 3 * vocab * 5 + 100, vocab })
        {
            var observed = new SliceShapes(model);
            new WindowedPerplexity(observed, Bytes, options, sliceElements: budget).Evaluate("xx", text);

            Assert.That(observed.Slices, Is.Not.Empty);
            var batchStart = 0;
            while (batchStart < observed.Slices.Count)
            {
                var rows = observed.Slices[batchStart].Rows;
                var seqlen = observed.Slices[batchStart].Seqlen;
                var allowed = Math.Clamp(budget / (rows * vocab), 1, seqlen);
                long covered = 0;
                var i = batchStart;
                for (; covered < seqlen; i++)
                {
                    var s = observed.Slices[i];
                    Assert.That((s.Rows, s.Vocab), Is.EqualTo((rows, vocab)), $"budget {budget}, slice {i}");
                    Assert.That(s.Rows * s.Positions * s.Vocab, Is.LessThanOrEqualTo(Math.Max(budget, rows * vocab)), $"budget {budget}, slice {i}");
                    Assert.That(s.Positions, Is.EqualTo(Math.Min(allowed, seqlen - covered)), $"budget {budget}, slice {i}");
                    covered += s.Positions;
                }
                Assert.That(covered, Is.EqualTo(seqlen));
                batchStart = i;
            }
            if (budget >= 3 * vocab)
                Assert.That(observed.Slices.Max(s => s.Rows * s.Positions * s.Vocab), Is.LessThanOrEqualTo(budget), $"budget {budget}");
        }
    }

    [Test]
    public void Batches_hold_at_most_batch_size_windows()
    {
        var model = new RecordingModel(new UniformModel(259));
        Evaluate(model, Bytes, new string('a', 99), new PerplexityOptions(Seqlen: 10, BatchSize: 4));
        Assert.That(model.BatchSizes, Is.EqualTo(new[] { 4, 4, 2 }));
    }

    [Test]
    public void Non_finite_logits_mark_the_result_instead_of_throwing()
    {
        var text = new string('a', 25) + "!" + new string('a', 24);          // '!' lands in window 2 of 5
        var result = Evaluate(new NaNModel(259, '!'), Bytes, text, new PerplexityOptions(Seqlen: 10));
        Assert.That((result.Windows, result.NonFiniteWindows, result.IsFinite), Is.EqualTo((5, 1, false)));
        Assert.That(result.Perplexity, Is.NaN);
        Assert.That(result.BitsPerByte, Is.NaN);
    }

    [Test]
    public void Progress_counts_windows()
    {
        var progress = new ListProgress<EvalProgress>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Evaluate(new UniformModel(259), Bytes, new string('a', 59), new PerplexityOptions(Seqlen: 10, BatchSize: 2), progress);
        var wall = clock.Elapsed.TotalSeconds;
        Assert.That(progress.Reports.Select(r => (r.WindowsDone, r.WindowsTotal)), Is.EqualTo(new[] { (2, 6), (4, 6), (6, 6) }));
        Assert.That(progress.Reports.Select(r => r.Language), Has.All.EqualTo("xx"));
        // A report's rate is its tokens (10 per window) over the time so far, which is within the call: at least tokens / wall.
        foreach (var r in progress.Reports)
            Assert.That(r.TokensPerSecond, Is.GreaterThanOrEqualTo(r.WindowsDone * 10 / wall * 0.999).And.LessThan(double.PositiveInfinity),
                        $"{r.WindowsDone} windows: {r.TokensPerSecond} tokens/s, the call took {wall} s");
    }

    [Test]
    public void No_tensor_outlives_the_evaluation()
    {
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Evaluate(new NextTokenModel(259, 0.5, id => id), Bytes, LongText, new PerplexityOptions(Seqlen: 16, BatchSize: 3));
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }

    [Test]
    public void The_result_records_the_hash_of_the_exact_text()
    {
        var result = new WindowedPerplexity(new UniformModel(259), Bytes, new PerplexityOptions(8))
            .Evaluate("ar", ["مرحبا بالعالم", "second document"]);
        Assert.That(result.TextSha256, Is.EqualTo(Corpus.HashText("مرحبا بالعالم\n\nsecond document")));
        Assert.That((result.Language, result.Seqlen), Is.EqualTo(("ar", 8)));
    }

    [Test]
    public void Text_shorter_than_a_window_fails_with_its_token_count()
    {
        Assert.That(() => Evaluate(new UniformModel(259), Bytes, "short", new PerplexityOptions(Seqlen: 64)),
            Throws.InstanceOf<InputException>().With.Message.Contain("6 tokens").And.Message.Contain("64"));
    }

    [Test]
    public void Per_window_bos_needs_a_tokenizer_with_bos()
    {
        Assert.That(() => new WindowedPerplexity(new UniformModel(259), BytesWithoutBos, new PerplexityOptions(8, BosPolicy: BosPolicy.PerWindow)),
            Throws.InstanceOf<InputException>().With.Message.Contain("StreamOnly"));
    }

    [Test]
    public void Ids_beyond_the_model_vocabulary_are_refused()
    {
        Assert.That(() => Evaluate(new UniformModel(200), Bytes, LongText, new PerplexityOptions(Seqlen: 8)),
            Throws.InstanceOf<InputException>().With.Message.Contain("does not belong"));
    }
}
