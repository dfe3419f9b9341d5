using System.Globalization;

namespace Repro.Cli.Commands;

/// <summary>
/// Anonymous resident memory (RssAnon in /proc/self/status): what the process holds that no file backs — the managed
/// heap and libtorch's CPU tensors — and not the pages of memory-mapped checkpoints, which are page cache the kernel
/// may drop. Benchmarks compare it with what the design promises.
/// </summary>
static class RssAnon
{
    /// <summary>Bytes now; null where /proc is absent.</summary>
    public static long? Current()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                return long.Parse(line["RssAnon:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return null;
    }

    /// <summary>
    /// Samples <see cref="Current"/> and the managed heap's size every <c>interval</c> (default 20 ms) on its own
    /// thread until stopped; keeps both peaks.
    /// </summary>
    public sealed class Sampler : IDisposable
    {
        readonly Thread thread;
        volatile bool stopping;
        long peak;
        long managedPeak;

        public Sampler(TimeSpan? interval = null)
        {
            var sleep = interval ?? TimeSpan.FromMilliseconds(20);
            peak = Current() ?? -1;
            managedPeak = GC.GetTotalMemory(false);
            thread = new Thread(() =>
            {
                while (!stopping)
                {
                    Sample();
                    Thread.Sleep(sleep);
                }
            }) { IsBackground = true, Name = "RssAnon sampler" };
            thread.Start();
        }

        void Sample()
        {
            if (Current() is { } now && now > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, now);
            var managed = GC.GetTotalMemory(false);
            if (managed > Interlocked.Read(ref managedPeak)) Interlocked.Exchange(ref managedPeak, managed);
        }

        /// <summary>The largest managed heap size seen (bytes); part of RssAnon, not added to it.</summary>
        public long ManagedPeak => Interlocked.Read(ref managedPeak);

        public long? Stop()
        {
            stopping = true;
            thread.Join();
            Sample();
            return peak < 0 ? null : peak;
        }

        public void Dispose()
        {
            if (!stopping) Stop();
        }
    }
}
