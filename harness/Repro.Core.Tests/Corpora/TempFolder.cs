namespace Repro.Core.Tests.Corpora;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string relative, string? text = null)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        if (text is not null) System.IO.File.WriteAllText(full, text);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }   // a leftover temp folder is not a test failure
    }
}
