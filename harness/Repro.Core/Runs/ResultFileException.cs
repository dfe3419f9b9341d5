namespace Repro.Core.Runs;

/// <summary>A result, claim or expectation file that cannot be used; the message names the file and the problem.</summary>
public sealed class ResultFileException(string path, string problem) : InputFileException(path, problem);
