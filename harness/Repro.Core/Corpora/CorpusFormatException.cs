namespace Repro.Core.Corpora;

/// <summary>A corpus file or folder that cannot be used; the message names the file (and line) and the problem.</summary>
public sealed class CorpusFormatException(string path, string problem) : InputFileException(path, problem);
