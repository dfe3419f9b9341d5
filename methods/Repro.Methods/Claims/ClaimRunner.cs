using Repro.Core;
using Repro.Methods.Runs;
using System.Diagnostics;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Core.Models;
using Repro.Core.Checkpoints;

namespace Repro.Methods.Claims;

/// <summary>Progress of a grid: runs done of total (reused ones included), the current run and its stage, and an estimate of the time left.</summary>
public readonly record struct GridProgress(int Done, int Total, int Reused, string Current, string Stage, TimeSpan? Remaining);

/// <summary>
/// Runs the grids of claims through a <see cref="ResultStore"/>: every spec once, finished ones reused, a
/// <see cref="Shard"/> taking its deterministic slice. Results stay in the store; verdicts are computed from it
/// (<see cref="ClaimVerdicts"/>).
/// </summary>
public static class ClaimRunner
{
    /// <returns>The runs of the slice, each with its result.</returns>
    /// <param name="plan">The catalog's plan at the profile (<see cref="ClaimGrid.Plan"/>); <paramref name="claims"/> pick their part of it.</param>
    public static IReadOnlyList<(GridRun Run, RunResult Result)> Run(IEnumerable<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile,
                                                                     ResultStore store, Shard shard, bool keepModels = false, IProgress<GridProgress>? progress = null)
    {
        var runs = ClaimGrid.Of(claims, plan, profile);
        var selected = shard.Select(runs.Select(r => r.Request.Spec)).Select(s => s.Hash).ToHashSet();
        var slice = runs.Where(r => selected.Contains(r.Request.Spec.Hash)).ToList();
        CheckGroupSizes(slice);
        var results = new List<(GridRun, RunResult)>();
        var clock = Stopwatch.StartNew();
        int reused = 0, ran = 0;
        foreach (var run in slice)
        {
            var current = run.Request.Spec.ToString();
            TimeSpan? remaining = ran == 0 ? null : clock.Elapsed / ran * (slice.Count - results.Count);
            progress?.Report(new GridProgress(results.Count, slice.Count, reused, current, "starting", remaining));
            var inner = progress is null ? null
                : new Forward<RunProgress>(p => progress.Report(new GridProgress(results.Count, slice.Count, reused, current, p.Stage, remaining)));
            var result = RunExecutor.GetOrRun(run.Request, store, out var wasReused, keepModels, inner);
            if (wasReused) reused++;
            else ran++;
            results.Add((run, result));
        }
        progress?.Report(new GridProgress(results.Count, slice.Count, reused, "", "done", TimeSpan.Zero));
        return results;
    }

    /// <summary>
    /// A quantization group size must divide every projection's input width (hidden, heads × head_dim, intermediate);
    /// checked for the whole slice before the first run, so a grid does not stop hours in with a sublayer's error.
    /// </summary>
    public static void CheckGroupSizes(IEnumerable<GridRun> runs)
    {
        foreach (var run in runs.Where(r => r.Request.Method is { Kind: MethodKinds.Quantization, Options.GroupSize: > 0 })
                                .DistinctBy(r => (r.Request.ModelDir, r.Request.Method!.Options.GroupSize)))
        {
            var group = run.Request.Method!.Options.GroupSize;
            var configPath = Path.Combine(run.Request.ModelDir, HfCheckpoint.ConfigFileName);
            var config = ModelConfig.FromJson(HfCheckpoint.ReadConfig(configPath), configPath);
            var widths = new (string Name, long Width)[]
            {
                ("hidden_size", config.HiddenSize), ("num_attention_heads × head_dim", (long)config.NumAttentionHeads * config.HeadDim),
                ("intermediate_size", config.IntermediateSize),
            };
            var bad = widths.Where(w => w.Width % group != 0).ToList();
            if (bad.Count > 0)
                throw new InputException(
                    $"{run.Request.Method.Name} with group size {group} cannot quantize {run.Request.ModelName} ({configPath}): " +
                    $"{string.Join(", ", bad.Select(b => $"{b.Name} {b.Width}"))} {(bad.Count == 1 ? "is" : "are")} not a multiple of {group}; " +
                    "give the claim's grid a group size that divides every projection width, or -1 (one grid per row)");
        }
    }

    sealed class Forward<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
