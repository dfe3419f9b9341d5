namespace Repro.Core.Corpora;

/// <summary>A corpus file or folder that cannot be used; the message names the file (and line) and the problem.</summary>
public sealed class CorpusFormatException(string path, string problem)
    : Exception($"{path}: {problem}")
{
    public string Path => path;
    public string Problem => problem;
}
