using System.Runtime.InteropServices;
using System.Text;

namespace Repro.Core.Tokenizers;

/// <summary>
/// Unicode normalization (NFC/NFD/NFKC/NFKD) that works in globalization-invariant mode. The solution sets
/// <c>InvariantGlobalization</c>, and there <see cref="string.Normalize(NormalizationForm)"/> silently returns
/// its input unchanged, so Qwen's NFC normalizer would do nothing and ids would differ from Hugging Face's.
/// In that mode this calls ICU's C API (libicuuc, which .NET itself uses when not invariant) directly.
/// A host with neither gets an error when a tokenizer that needs normalization is loaded, never a silent no-op.
/// </summary>
public static unsafe class UnicodeNormalization
{
    static readonly Lazy<Icu?> IcuLibrary = new(Icu.TryLoad);

    /// <summary>Whether <see cref="Normalize"/> can run in this process, and if not, why.</summary>
    public static bool IsAvailable(out string reason)
    {
        if (!IsInvariant)
        {
            reason = "";
            return true;
        }
        if (IcuLibrary.Value is not null)
        {
            reason = "";
            return true;
        }
        reason = "the process runs in globalization-invariant mode, where .NET does not normalize, and no ICU library " +
                 "(libicuuc) could be loaded; install ICU (Debian: apt-get install libicu72, or the libicu of your release)";
        return false;
    }

    public static string Normalize(string text, NormalizationForm form)
    {
        if (text.Length == 0 || Ascii.IsValid(text)) return text;       // ASCII is invariant under all four forms
        if (!IsInvariant) return text.Normalize(form);
        var icu = IcuLibrary.Value ?? throw new PlatformNotSupportedException(IsAvailable(out var why) ? "" : why);
        return icu.Normalize(text, form);
    }

    /// <summary>Probed rather than read from the switch: what matters is whether .NET actually composes.</summary>
    static bool IsInvariant { get; } = "e\u0301".Normalize(NormalizationForm.FormC).Length != 1;

    sealed class Icu
    {
        readonly delegate* unmanaged<nint, char*, int, char*, int, int*, int> normalize;
        readonly Dictionary<NormalizationForm, nint> instances = [];

        Icu(nint library, string suffix)
        {
            normalize = (delegate* unmanaged<nint, char*, int, char*, int, int*, int>)NativeLibrary.GetExport(library, "unorm2_normalize" + suffix);
            foreach (var (form, name) in new[]
                     {
                         (NormalizationForm.FormC, "NFC"), (NormalizationForm.FormD, "NFD"),
                         (NormalizationForm.FormKC, "NFKC"), (NormalizationForm.FormKD, "NFKD"),
                     })
            {
                var get = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(library, $"unorm2_get{name}Instance{suffix}");
                var error = 0;
                var instance = get(&error);
                if (error > 0 || instance == 0) throw new InvalidOperationException($"ICU unorm2_get{name}Instance failed with error {error}");
                instances[form] = instance;
            }
        }

        public string Normalize(string text, NormalizationForm form)
        {
            var capacity = text.Length * 2 + 16;
            while (true)
            {
                var output = new char[capacity];
                var error = 0;
                int length;
                fixed (char* source = text)
                fixed (char* destination = output)
                    length = normalize(instances[form], source, text.Length, destination, output.Length, &error);
                if (error == 15 /* U_BUFFER_OVERFLOW_ERROR */ && length > capacity)
                {
                    capacity = length;
                    continue;
                }
                if (error > 0) throw new InvalidOperationException($"ICU unorm2_normalize failed with error {error}");
                return new string(output, 0, length);
            }
        }

        /// <summary>libicuuc exports its functions with the major version as a suffix (<c>unorm2_normalize_72</c>).</summary>
        public static Icu? TryLoad()
        {
            string[] names = OperatingSystem.IsMacOS() ? ["libicucore.dylib"]
                : [.. Enumerable.Range(50, 50).Reverse().Select(v => $"libicuuc.so.{v}"), "libicuuc.so"];
            foreach (var name in names)
            {
                if (!NativeLibrary.TryLoad(name, out var library)) continue;
                foreach (var suffix in Enumerable.Range(50, 50).Reverse().Select(v => $"_{v}").Prepend(""))
                {
                    if (!NativeLibrary.TryGetExport(library, "unorm2_normalize" + suffix, out _)) continue;
                    try
                    {
                        return new Icu(library, suffix);
                    }
                    catch (Exception e) when (e is EntryPointNotFoundException or InvalidOperationException)
                    {
                        break;
                    }
                }
            }
            return null;
        }
    }
}
