using Repro.Core.Claims;

namespace Repro.Reports.Tests;

/// <summary>Puts markup into every kind of string the report takes from data: claim text, model names, calibration rows, tasks, languages, notes.</summary>
static class Hostile
{
    public static ReportInput Inject(ReportInput input, string a, string b) => input with
    {
        Title = input.Title + " " + a,
        Claims = [.. input.Claims.Select(c => c with { Statement = c.Statement + " " + a, RuleInWords = b + c.RuleInWords, Source = c.Source with { Where = a } })],
        Profiles = [.. input.Profiles.Select(p => p with
        {
            Verdicts = p.Verdicts with
            {
                Verdicts = [.. p.Verdicts.Verdicts.Select(v => v with
                {
                    Why = b,
                    Verdict = v.Verdict with { Reason = a, Notes = [.. v.Verdict.Notes, b] },
                    Tables = [.. v.Tables.Select(t => t with
                    {
                        Model = t.Model + a,
                        Rows = [.. t.Rows.Select(r => r + b)],
                        Cells = [.. t.Cells.Select(c => c with { Row = c.Row + b, Language = c.Language + a })],
                        Columns = [.. t.Columns.Select(c => c with { Language = c.Language + a, Task = c.Task,
                                                                     Fingerprint = c.Fingerprint is null ? null : c.Fingerprint with { Task = b } })],
                    })],
                })],
            },
        })],
    };
}
