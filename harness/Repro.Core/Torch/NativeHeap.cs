using System.Runtime.InteropServices;

namespace Repro.Core.Torch;

/// <summary>
/// Gives freed native memory back to the operating system. libtorch allocates CPU tensors with glibc's malloc, which
/// keeps freed blocks below its mmap threshold (up to 32 MiB, e.g. a 2048×2048 float32 weight) in the process's heap:
/// after a decoder layer is disposed, its memory is free but still resident, and a run over many layers ratchets up to
/// the sum of its fragments. Trimming at layer boundaries keeps resident memory at what is live.
/// </summary>
public static class NativeHeap
{
    static bool unavailable = !OperatingSystem.IsLinux();

    /// <summary><c>malloc_trim(0)</c> on glibc Linux; nothing elsewhere (or on a libc without it, e.g. musl).</summary>
    public static void Trim()
    {
        if (unavailable) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            unavailable = true;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
