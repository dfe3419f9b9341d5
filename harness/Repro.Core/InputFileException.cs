namespace Repro.Core;

/// <summary>
/// A file or folder the user gave that cannot be used. The message names the path and the problem, and
/// says what to do next; front ends report it without a stack trace, as bad input rather than a crash.
/// </summary>
public abstract class InputFileException(string path, string problem) : InputException($"{path}: {problem}")
{
    public string Path => path;
    public string Problem => problem;
}
