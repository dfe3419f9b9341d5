using Repro.Core.Training;

namespace Repro.Core.Tests.Training;

public sealed class LearningRateScheduleTests
{
    static readonly LearningRateSchedule Schedule = new(Peak: 1e-3, Floor: 1e-4, WarmupSteps: 10, TotalSteps: 110);

    [TestCase(0, 1e-4)]       // first update: peak / warm-up
    [TestCase(4, 5e-4)]
    [TestCase(9, 1e-3)]       // last warm-up update reaches the peak
    [TestCase(10, 1e-3)]      // cosine starts at the peak
    [TestCase(60, 5.5e-4)]    // half-way through the decay: (peak + floor) / 2
    [TestCase(35, 8.681980515339464e-4)]   // a quarter: floor + (peak − floor)(1 + cos π/4)/2
    [TestCase(110, 1e-4)]     // the end: the floor
    [TestCase(500, 1e-4)]     // past the end: stays at the floor
    public void Warm_up_then_cosine(int step, double expected) =>
        Assert.That(Schedule.At(step), Is.EqualTo(expected).Within(1e-15));

    [Test]
    public void Decays_monotonically_after_warm_up()
    {
        var rates = Enumerable.Range(10, 101).Select(Schedule.At).ToList();
        Assert.That(rates, Is.Ordered.Descending);
    }

    [Test]
    public void No_warm_up_starts_at_the_peak() =>
        Assert.That(new LearningRateSchedule(2e-3, 0, 0, 100).At(0), Is.EqualTo(2e-3));

    [Test]
    public void Bad_schedules_are_refused()
    {
        Assert.That(() => new LearningRateSchedule(0, 0, 0, 10).Validated(), Throws.InstanceOf<InputException>().With.Message.Contains("peak"));
        Assert.That(() => new LearningRateSchedule(1e-3, 2e-3, 0, 10).Validated(), Throws.InstanceOf<InputException>().With.Message.Contains("floor"));
        Assert.That(() => new LearningRateSchedule(1e-3, 0, 20, 10).Validated(), Throws.InstanceOf<InputException>().With.Message.Contains("warm-up"));
    }
}
