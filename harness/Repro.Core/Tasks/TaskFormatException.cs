namespace Repro.Core.Tasks;

/// <summary>A task file that cannot be used; the message names the file (and line) and the problem.</summary>
public sealed class TaskFormatException(string path, string problem) : InputFileException(path, problem);
