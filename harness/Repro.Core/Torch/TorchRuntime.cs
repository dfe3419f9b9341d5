using System.Runtime.InteropServices;
using TorchSharp;

namespace Repro.Core.Torch;

/// <summary>Thrown when libtorch or TorchSharp's native bridge cannot be loaded on this host.</summary>
public sealed class TorchUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One place that touches TorchSharp first, so a host that cannot load the native libraries
/// gets one message saying why and what to do, instead of a TypeInitializationException
/// thrown from whichever tensor happened to be created first.
/// </summary>
public static class TorchRuntime
{
    static readonly Lazy<Exception?> LoadFailure = new(TryLoad);

    /// <summary>Loads the native backend once; throws <see cref="TorchUnavailableException"/> if it cannot.</summary>
    public static void EnsureLoaded()
    {
        if (LoadFailure.Value is { } failure) throw failure;
    }

    /// <summary>Parses "cpu", "cuda" or "cuda:N"; fails clearly when CUDA is asked for but absent.</summary>
    public static torch.Device ParseDevice(string text)
    {
        EnsureLoaded();
        var name = text.Trim().ToLowerInvariant();
        if (name == "cpu") return torch.CPU;
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new InputException(
                    $"device '{text}' was requested but CUDA is not available: this build uses the " +
                    $"'{Backend}' TorchSharp backend{(Backend == "cpu" ? " (rebuild with -p:ReproTorchBackend=cuda on a machine with an NVIDIA driver)" : ", and no GPU is visible")}. " +
                    "Use --device cpu to run on the CPU.");
            return new torch.Device(name);
        }
        throw new InputException($"unknown device '{text}': use cpu, cuda or cuda:N");
    }

    /// <summary>The backend this build links against ("cpu" or "cuda"), from the TorchSharp package it references.</summary>
    public static string Backend { get; } =
        typeof(TorchRuntime).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ReproTorchBackend")?.Value ?? "cpu";

    /// <summary>
    /// libtorch's OpenMP threads busy-wait between parallel regions by default. When another process shares the cores
    /// (two jobs on a 2-core machine, a CI runner's neighbours) a spinning thread holds a core its partner needs, and a
    /// perplexity pass was measured 20× slower (74 s instead of 3.7 s). Passive waiting changes no number, only how idle
    /// threads wait. libgomp reads the setting once when libtorch is loaded, so it is set in the native environment
    /// before that, unless the user set it.
    /// </summary>
#pragma warning disable CA2255 // a library must set this before any of its users touches torch, which only a module initializer guarantees
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void PreferPassiveOpenMpWaiting()
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            try
            {
                _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc: keep the OpenMP default.
            }
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);

    static Exception? TryLoad()
    {
        try
        {
            using var probe = torch.zeros(1);
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException
                                      or EntryPointNotFoundException or BadImageFormatException)
        {
            var detail = Innermost(e).Message;
            var hint = RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && detail.Contains("GLIBCXX", StringComparison.Ordinal)
                ? "The native library needs a newer libstdc++ than this host has. The build marks that requirement weak " +
                  "in the copy under bin/ on hosts that need it; rebuild (dotnet build) so the fix is applied, or install a newer libstdc++."
                : "Rebuild the project (dotnet build) so the native libtorch libraries are copied next to the program; " +
                  "for CUDA builds, check that the NVIDIA driver matches the TorchSharp-cuda package.";
            return new TorchUnavailableException(
                $"TorchSharp's native libraries could not be loaded on this host ({RuntimeInformation.OSDescription}, " +
                $"{RuntimeInformation.ProcessArchitecture}): {FirstLine(detail)}\n{hint}", e);
        }
    }

    static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    static string FirstLine(string text)
    {
        var line = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? text;
        return line.Length > 400 ? line[..400] + "…" : line;
    }
}
