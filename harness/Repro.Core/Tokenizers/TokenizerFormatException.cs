namespace Repro.Core.Tokenizers;

/// <summary>A tokenizer file or folder that cannot be used; the message names the file and the problem.</summary>
public sealed class TokenizerFormatException(string path, string problem) : InputFileException(path, problem);
