using System.Reflection;

namespace Repro.Core.Runs;

/// <summary>The version of Repro that produced a result, recorded in every result file.</summary>
public static class CodeVersion
{
    /// <summary>The informational version, which the SDK suffixes with the git commit (<c>1.0.0+abc123…</c>) when built from a checkout.</summary>
    public static string Current { get; } =
        typeof(CodeVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
