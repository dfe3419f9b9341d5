using System.Diagnostics;
using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// Writing onto a full disk, for real: a small tmpfs mounted for the test, filled before the run or sized to hold only
/// part of the output (it needs the right to mount, which CI's root has; elsewhere the tests are skipped saying so).
/// </summary>
public sealed class DiskFullTests
{
    static readonly string Samples = Path.Combine(RepoPaths.Fixtures, "samples");

    sealed class FullDisk : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-full-" + Guid.NewGuid().ToString("N")[..8]);

        /// <param name="options">tmpfs mount options: its size in blocks, or in inodes with nr_inodes.</param>
        /// <param name="fill">Fill it before the run, so its first write fails.</param>
        public FullDisk(string options = "size=64k", bool fill = true)
        {
            Directory.CreateDirectory(Path);
            if (Run("mount", $"-t tmpfs -o {options} tmpfs {Path}") != 0)
            {
                Directory.Delete(Path);
                Assert.Ignore("mounting a small tmpfs to fill needs root (CAP_SYS_ADMIN), which this process lacks");
            }
            if (!fill) return;
            // Fill it: write until the device refuses.
            try
            {
                using var filler = File.Create(System.IO.Path.Combine(Path, "filler"));
                var block = new byte[4096];
                while (true) filler.Write(block);
            }
            catch (IOException) { }
        }

        public void Dispose()
        {
            Run("umount", Path);
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }

        static int Run(string file, string args)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                p.WaitForExit();
                return p.ExitCode;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return -1;
            }
        }
    }

    [Test]
    public void Eval_onto_a_full_disk_exits_1_naming_it_and_leaves_no_results_file()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        using var disk = new FullDisk();
        var results = Path.Combine(disk.Path, "ppl.json");

        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Samples, "--langs", "de", "--seqlen", "64", "--out", results);

        Assert.That(outcome.ExitCode, Is.EqualTo(1), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: no space left on the device").And.Contain(disk.Path).And.Not.Contain(" at "));
        Assert.That(Directory.EnumerateFileSystemEntries(disk.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "filler" }),
                    "neither the results file nor its temporary");
    }

    [Test]
    public void Prune_onto_a_full_disk_exits_1_without_a_stack_trace_and_leaves_no_output_folder()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        using var disk = new FullDisk();
        var output = Path.Combine(disk.Path, "pruned");

        var outcome = Cli.Run("prune", "--model", model, "--method", "magnitude", "--sparsity", "0.5", "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(1), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: no space left on the device").And.Not.Contain(" at Repro."));
        Assert.That(Directory.Exists(output), Is.False, "no folder under the final name");
        Assert.That(Directory.EnumerateFileSystemEntries(disk.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "filler" }), "no partial folder, no lock file");
    }

    [Test]
    public void Prune_that_runs_out_of_space_midway_exits_1_naming_the_path_and_leaves_nothing_that_looks_complete()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        // 128 KiB: room for the lock, the marker and the embedding and head shards (33 KB each), not for layer 0's (100 KB).
        using var disk = new FullDisk("size=128k", fill: false);
        var output = Path.Combine(disk.Path, "pruned");

        var outcome = Cli.Run("prune", "--model", model, "--method", "magnitude", "--sparsity", "0.5", "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(1), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: no space left on the device").And.Contain(output + ".partial").And.Not.Contain(" at Repro."));
        Assert.That(outcome.Error, Does.Not.Contain("another running Repro process"));
        Assert.That(outcome.Error, Does.Contain("model-00002-of-00004"), "layer 0's shard, after the embedding and head shards were written");
        Assert.That(Directory.EnumerateFileSystemEntries(disk.Path), Is.Empty, "no final folder, no partial one, no lock file");
    }

    [Test]
    public void A_lock_file_that_cannot_be_created_for_lack_of_space_is_reported_as_a_full_disk_not_as_another_process()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        using var disk = new FullDisk("size=64k,nr_inodes=1", fill: false);   // the root folder takes the only inode
        var output = Path.Combine(disk.Path, "pruned");

        var outcome = Cli.Run("prune", "--model", model, "--method", "magnitude", "--sparsity", "0.5", "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(1), outcome.Error);
        Assert.That(outcome.Error, Does.StartWith("error: no space left on the device").And.Contain(output + ".lock"));
        Assert.That(outcome.Error, Does.Not.Contain("another running Repro process"));
        Assert.That(Directory.EnumerateFileSystemEntries(disk.Path), Is.Empty);
    }
}
