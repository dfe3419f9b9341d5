namespace Repro.Core.Training;

/// <summary>
/// Linear warm-up to <see cref="Peak"/>, then cosine decay to <see cref="Floor"/> at <see cref="TotalSteps"/>
/// (the schedule of GPT-3, Llama and nanoGPT). Steps count from 0: <c>At(s)</c> is the rate of update s + 1,
/// so the first update already moves (<c>Peak / WarmupSteps</c>) and update <see cref="WarmupSteps"/> is at the peak.
/// </summary>
public sealed record LearningRateSchedule(double Peak, double Floor, int WarmupSteps, int TotalSteps)
{
    public LearningRateSchedule Validated()
    {
        if (!(Peak > 0) || !double.IsFinite(Peak)) throw new InputException($"peak learning rate must be positive and finite, got {Peak}");
        if (!(Floor >= 0) || Floor > Peak) throw new InputException($"learning-rate floor must be in [0, peak {Peak}], got {Floor}");
        if (WarmupSteps < 0) throw new InputException($"warm-up steps must not be negative, got {WarmupSteps}");
        if (TotalSteps < 1 || WarmupSteps > TotalSteps)
            throw new InputException($"total steps must be at least 1 and at least the warm-up steps ({WarmupSteps}), got {TotalSteps}");
        return this;
    }

    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = TotalSteps - WarmupSteps;
        var progress = decaySteps == 0 ? 1 : Math.Min(1.0, (step - WarmupSteps) / (double)decaySteps);
        return Floor + 0.5 * (Peak - Floor) * (1 + Math.Cos(Math.PI * progress));
    }
}
