namespace Repro.Core;

/// <summary>
/// Folders of a Repro checkout (fixtures, expectations), found by walking up from the running
/// assembly to the folder holding Repro.sln, so tests and the CLI work from any build output.
/// </summary>
public static class RepoPaths
{
    static readonly Lazy<string?> RootOrNull = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Repro.sln"))) return dir.FullName;
        return null;
    });

    public static string Root => RootOrNull.Value ?? throw new DirectoryNotFoundException(
        $"{AppContext.BaseDirectory}: not inside a Repro checkout (no Repro.sln above it); run from the repository or pass explicit paths");

    public static string Fixtures => Path.Combine(Root, "fixtures");
    public static string Expectations => Path.Combine(Root, "expectations");
}
