namespace Repro.Core.Checkpoints;

/// <summary>A checkpoint file or folder that cannot be used; the message names the file and the problem.</summary>
public sealed class CheckpointFormatException(string path, string problem) : InputFileException(path, problem);
