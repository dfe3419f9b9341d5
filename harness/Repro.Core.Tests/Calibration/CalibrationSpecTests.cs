using System.Text.Json;
using Repro.Core.Calibration;

namespace Repro.Core.Tests.Calibration;

public sealed class CalibrationSpecTests
{
    [TestCase(new string[0], 128, 8, "at least one language")]
    [TestCase(new[] { "de", "en", "de" }, 128, 8, "'de' is listed twice")]
    [TestCase(new[] { "de" }, 0, 8, "nsamples is 0")]
    [TestCase(new[] { "de" }, 128, 1, "seqlen is 1")]
    [TestCase(new[] { "de", "" }, 128, 8, "empty code")]
    public void Unusable_specs_are_rejected_with_the_field_named(string[] languages, int nsamples, int seqlen, string problem)
    {
        var e = Assert.Throws<InputException>(() => new CalibrationSpec(languages, nsamples, seqlen, 0).Validate());
        Assert.That(e!.Message, Does.Contain(problem));
    }

    [Test]
    public void Seven_languages_share_128_samples_as_19_19_18_18_18_18_18()
    {
        var spec = new CalibrationSpec(["ar", "de", "en", "es", "ru", "sw", "zh"], 128, 8192, 0);
        Assert.That(spec.Shares().Select(s => s.Count), Is.EqualTo(new[] { 19, 19, 18, 18, 18, 18, 18 }));
        Assert.That(new CalibrationSpec(["de", "en"], 128, 8, 0).Shares().Select(s => s.Count), Is.EqualTo(new[] { 64, 64 }));
    }

    [Test]
    public void Specs_with_equal_language_lists_are_equal_and_survive_a_json_round_trip()
    {
        var a = new CalibrationSpec(["de", "en"], 128, 2048, 3);
        var b = new CalibrationSpec(new List<string> { "de", "en" }, 128, 2048, 3);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(b.GetHashCode(), Is.EqualTo(a.GetHashCode()));
        Assert.That(new CalibrationSpec(["en", "de"], 128, 2048, 3), Is.Not.EqualTo(a), "order decides who gets the extra samples");
        Assert.That(JsonSerializer.Deserialize<CalibrationSpec>(JsonSerializer.Serialize(a)), Is.EqualTo(a));
    }

    [Test]
    public void Sub_seeds_follow_the_documented_hash()
    {
        var digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("repro/calibration\u00000\u0000de"));
        Assert.That(SubSeed.Derive("calibration", 0, "de"), Is.EqualTo(BitConverter.ToUInt64(digest, 0)));
        Assert.That(SubSeed.Derive("calibration", 0, "en"), Is.Not.EqualTo(SubSeed.Derive("calibration", 0, "de")));
        Assert.That(SubSeed.Derive("calibration", 1, "de"), Is.Not.EqualTo(SubSeed.Derive("calibration", 0, "de")));
    }
}
