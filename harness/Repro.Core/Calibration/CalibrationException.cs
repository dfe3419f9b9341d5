namespace Repro.Core.Calibration;

/// <summary>A corpus that cannot give the calibration a spec asks for; the message names the file, the language and the problem.</summary>
public sealed class CalibrationException(string path, string problem) : InputFileException(path, problem);
