using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Tokenizers;
using Repro.Methods.Pipeline;

namespace Repro.Methods.Runs;

/// <summary>What a run asks a calibration sampler for (METHODS §1).</summary>
/// <param name="Tokenizer">The model's tokenizer, from the model folder.</param>
/// <param name="AllowRepeatedText">Sample a language whose text is shorter than its share × seqlen anyway.</param>
public sealed record CalibrationRequest(string DataDir, IReadOnlyList<string> Languages, string Split, int NSamples, int Seqlen,
                                        int Seed, ITextTokenizer Tokenizer, string ModelDir, bool AllowRepeatedText = false);

/// <summary>
/// Produces the calibration token ids of a run. Runs and <c>repro prune</c> depend only on this; the corpus sampler
/// plugs in here, and tests give their own.
/// </summary>
public interface ICalibrationSource
{
    /// <summary>Draws <c>[NSamples, Seqlen]</c> ids; bad corpora are reported as <see cref="Repro.Core.InputFileException"/>.</summary>
    CalibrationTokens Draw(CalibrationRequest request);
}

/// <summary>
/// The reference-style calibration sampler (METHODS §1) over a corpus folder: random documents longer than
/// seqlen, a random window in each, languages in equal shares, all from the seed.
/// </summary>
/// <param name="note">Told about languages whose windows repeat text (the CLI prints it).</param>
public sealed class CorpusCalibrationSource(Action<string>? note = null) : ICalibrationSource
{
    public CalibrationTokens Draw(CalibrationRequest request)
    {
        var corpora = CorpusDirectory.Open(request.DataDir);
        var spec = new CalibrationSpec(request.Languages, request.NSamples, request.Seqlen, request.Seed);
        var set = CalibrationSampler.Sample(spec, language => corpora.Stream(language, request.Split), request.Tokenizer, request.AllowRepeatedText);
        foreach (var language in set.Languages.Where(l => l.RepeatsText))
            note?.Invoke($"note: calibration language '{language.Language}' has {language.TextTokens} tokens of text for {language.Count} × {set.Seqlen} = " +
                         $"{(long)language.Count * set.Seqlen}; its windows repeat text (--allow-repeated-text)");
        var ids = new long[set.NSamples, set.Seqlen];
        for (var i = 0; i < set.NSamples; i++)
        {
            var row = set.Row(i);
            for (var j = 0; j < set.Seqlen; j++) ids[i, j] = row[j];
        }
        return new CalibrationTokens(ids, request.Seed, new
        {
            spec = new { languages = spec.Languages, nsamples = spec.NSamples, seqlen = spec.Seqlen, seed = spec.Seed },
            allowRepeatedText = request.AllowRepeatedText,
            split = request.Split,
            languages = set.Languages,
            samples = set.Samples,
        }) { RowLanguages = [.. set.Samples.Select(s => s.Language)] };
    }
}
