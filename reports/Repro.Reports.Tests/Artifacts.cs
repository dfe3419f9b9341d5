using Repro.Core;

namespace Repro.Reports.Tests;

/// <summary>Where the report tests leave what a reader may want to open: <c>out/test-artifacts/report/</c>.</summary>
static class Artifacts
{
    public static string Folder => Directory.CreateDirectory(Path.Combine(RepoPaths.Root, "out", "test-artifacts", "report")).FullName;
}
