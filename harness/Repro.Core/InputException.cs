namespace Repro.Core;

/// <summary>
/// Input the user gave that cannot be used: an argument, a setting that does not fit the model, a file's content.
/// The message says what is wrong and what to do; front ends report it without a stack trace (the CLI exits 2).
/// Anything else that escapes is a failure of Repro itself and keeps its stack trace.
/// </summary>
public class InputException(string message) : Exception(message);
