using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Methods.Pipeline;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary>
/// The reference-style calibration sampler (METHODS §1) over a corpus folder: random documents longer than
/// seqlen, a random window in each, languages in equal shares, all from the seed.
/// </summary>
public sealed class CorpusCalibrationSource : ICalibrationSource
{
    public CalibrationTokens Draw(CalibrationRequest request)
    {
        var corpora = CorpusDirectory.Open(request.DataDir);
        var spec = new CalibrationSpec(request.Languages, request.NSamples, request.Seqlen, request.Seed);
        var set = CalibrationSampler.Sample(spec, language => corpora.Load(language, request.Split), request.Tokenizer, request.AllowRepeatedText);
        foreach (var language in set.Languages.Where(l => l.RepeatsText))
            AnsiConsole.MarkupLine(Markup.Escape(
                $"note: calibration language '{language.Language}' has {language.TextTokens} tokens of text for {language.Count} × {set.Seqlen} = " +
                $"{(long)language.Count * set.Seqlen}; its windows repeat text (--allow-repeated-text)"));
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
        });
    }
}
