using System.Text;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Tasks;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Evaluation;

public sealed class MultipleChoiceScorerTests
{
    const int V = 259;
    static readonly ByteTokenizer Bytes = new();
    static readonly double L = Math.Log(V);

    static int[] Ids(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    static MultipleChoiceScorer Scorer(ILanguageModel model, int maxLength = 512, bool prefixBos = true, string delimiter = " ") =>
        new(model, Bytes, new MultipleChoiceOptions(maxLength, prefixBos, delimiter));

    [Test]
    public void Under_uniform_logits_each_choice_scores_minus_its_token_count_times_log_v()
    {
        var item = new MultipleChoiceItem("q", "Question?", ["ab", "x", "日本"], Gold: 0);
        var score = Scorer(new UniformModel(V)).Score("t", [item]).Scores[0];
        // " ab" is 3 byte tokens, " x" 2, " 日本" 7.
        Assert.That(score.LogLikelihoods, Is.EqualTo(new[] { -3 * L, -2 * L, -7 * L }).Within(1e-9));
        Assert.That((score.Predicted, score.PredictedNorm), Is.EqualTo((1, 0)), "acc: fewest tokens; acc_norm: −3L/2 beats −2L/1 and −7L/2");
    }

    [Test]
    public void Acc_norm_divides_by_code_points_not_utf16_units()
    {
        // " 中" is 4 tokens over 1 code point (1 UTF-16 unit); " 😀" is 5 tokens over 1 code point (2 UTF-16 units).
        // Per code point: −4L vs −5L, so 中; per UTF-16 unit it would be −4L vs −2.5L, so 😀.
        var score = Scorer(new UniformModel(V)).Score("t", [new MultipleChoiceItem("q", "c", ["中", "😀"], 0)]).Scores[0];
        Assert.That(score.PredictedNorm, Is.EqualTo(0));
    }

    [Test]
    public void Ties_go_to_the_first_choice_and_accuracy_has_the_harness_standard_error()
    {
        var items = new[] { 0, 0, 1, 2 }.Select((gold, i) => new MultipleChoiceItem($"q{i}", "c", ["a", "b", "c"], gold)).ToList();
        var result = Scorer(new UniformModel(V)).Score("t", items);
        Assert.That(result.Scores.Select(s => s.Predicted), Has.All.EqualTo(0));
        Assert.That(result.Accuracy, Is.EqualTo(0.5));
        Assert.That(result.AccuracyStdErr, Is.EqualTo(Math.Sqrt(1.0 / 3 / 4)).Within(1e-12), "sample variance (ddof 1) over n, square-rooted");
    }

    [Test]
    public void The_likely_continuation_wins_and_each_choice_is_one_row_without_its_last_token()
    {
        // The model predicts id + 1 with probability 0.9: after "ab" the continuation "cd" is the likely one.
        var recording = new RecordingModel(new NextTokenModel(V, 0.9, i => (i + 1) % V));
        var score = Scorer(recording, delimiter: "").Score("t", [new MultipleChoiceItem("q", "ab", ["xz", "cd", "dc"], 1)]).Scores[0];

        var other = Math.Log(0.1 / (V - 1));
        Assert.That(score.LogLikelihoods, Is.EqualTo(new[] { 2 * other, 2 * Math.Log(0.9), 2 * other }).Within(1e-9));
        Assert.That(score.Predicted, Is.EqualTo(1));
        Assert.That(recording.BatchSizes, Is.EqualTo(new[] { 3 }));
        Assert.That(recording.Rows[1], Is.EqualTo(new long[] { Bytes.BosId!.Value, 'a', 'b', 'c' }), "BOS, context, continuation less its last token");
    }

    [Test]
    public void Trailing_context_whitespace_moves_into_the_continuation()
    {
        var (context, continuation) = Scorer(new UniformModel(V)).Encode("Answer: ", " A");
        Assert.That(context, Is.EqualTo((int[])[Bytes.BosId!.Value, .. Ids("Answer:")]));
        Assert.That(continuation, Is.EqualTo(Ids("  A")));
    }

    [Test]
    public void Without_bos_the_context_stands_alone_and_an_empty_one_gets_the_prefix_token()
    {
        var scorer = Scorer(new UniformModel(V), prefixBos: false);
        Assert.That(scorer.Encode("Hi", " A").Context, Is.EqualTo(Ids("Hi")));
        var (context, continuation) = scorer.Encode("", " A");
        Assert.That((context, continuation), Is.EqualTo((new[] { Bytes.BosId!.Value }, Ids(" A"))));
    }

    [Test]
    public void A_sequence_longer_than_max_length_loses_tokens_from_the_left_and_is_marked_truncated()
    {
        var recording = new RecordingModel(new UniformModel(V));
        var result = Scorer(recording, maxLength: 8).Score("t", [new MultipleChoiceItem("q", "a long context", ["yes", "no"], 0)]);

        // BOS + "a long context" + " yes" is 19 tokens: the last 9 are kept and the last of those is not fed.
        int[] full = [Bytes.BosId!.Value, .. Ids("a long context yes")];
        Assert.That(recording.Rows[0], Is.EqualTo(full[^9..^1].Select(i => (long)i).ToArray()));
        Assert.That(result.Truncated, Is.EqualTo(1));
        Assert.That(result.Scores[0].LogLikelihoods[0], Is.EqualTo(-4 * L).Within(1e-9), "the 4 continuation tokens are still scored");
    }

    [Test]
    public void A_continuation_longer_than_the_window_scores_its_last_tokens()
    {
        var result = Scorer(new UniformModel(V), maxLength: 4).Score("t", [new MultipleChoiceItem("q", "c", ["abcdefgh", "x"], 1)]);
        Assert.That(result.Scores[0].LogLikelihoods[0], Is.EqualTo(-4 * L).Within(1e-9));
        Assert.That(result.Scores[0].Truncated, Is.True);
    }

    [Test]
    public void Bad_items_and_nan_logits_are_errors_naming_the_item()
    {
        var scorer = Scorer(new UniformModel(V));
        Assert.That(() => scorer.Score("t", [new MultipleChoiceItem("q7", "c", ["a", "b"], 2)]),
                    Throws.InstanceOf<InputException>().With.Message.Contains("item q7: gold index 2"));
        Assert.That(() => scorer.Score("t", [new MultipleChoiceItem("q8", "c", ["a"], 0)]),
                    Throws.InstanceOf<InputException>().With.Message.Contains("item q8: 1 choice"));
        Assert.That(() => scorer.Score("t", []), Throws.InstanceOf<InputException>());
        Assert.That(() => Scorer(new NaNModel(V, 'c')).Score("t", [new MultipleChoiceItem("q9", "c", ["a", "b"], 0)]),
                    Throws.TypeOf<InvalidDataException>().With.Message.Contains("item q9"));
    }

    [TestCase("word-order", BelebeleFormat.Cloze, 0)]
    [TestCase("belebele-style", BelebeleFormat.Letters, 1)]
    public void The_fixture_model_scores_shared_prefixes_as_it_scores_joined_rows(string task, BelebeleFormat format, int shots)
    {
        using var loaded = LoadedModel.Open(Path.Combine(RepoPaths.Fixtures, "models", "small"), CPU, ScalarType.Float32);
        var file = Directory.GetFiles(Path.Combine(RepoPaths.Fixtures, "tasks", task), "deu_Latn*").Single();
        var items = BelebeleMultipleChoice.Build(BelebeleReader.Read(file), format, shots).Take(6).ToList();
        var options = new MultipleChoiceOptions(loaded.Config.MaxPositionEmbeddings);

        var shared = new MultipleChoiceScorer(loaded.Model, loaded.Tokenizer, options).Score(task, items);
        var joined = new MultipleChoiceScorer(new JoinedRowsModel(loaded.Model), loaded.Tokenizer, options).Score(task, items);

        for (var i = 0; i < items.Count; i++)
        {
            Assert.That(shared.Scores[i].LogLikelihoods, Is.EqualTo(joined.Scores[i].LogLikelihoods).Within(1e-3),
                        $"item {items[i].Id}");
            Assert.That(shared.Scores[i].Predicted, Is.EqualTo(joined.Scores[i].Predicted), $"item {items[i].Id}");
        }
    }

    [Test]
    public void No_tensor_outlives_scoring()
    {
        var scorer = Scorer(new UniformModel(V));
        scorer.Score("t", [new MultipleChoiceItem("q", "c", ["a", "b"], 0)]);
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++) scorer.Score("t", [new MultipleChoiceItem("q", "c", ["a", "b"], 0)]);
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }
}
