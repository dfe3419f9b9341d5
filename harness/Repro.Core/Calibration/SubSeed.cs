using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Repro.Core.Calibration;

/// <summary>
/// Seeds for independent random streams derived from one run seed and a name (a language, a task dialect).
/// <c>string.GetHashCode()</c> differs between processes, so the derivation is spelled out: SHA-256 of the
/// UTF-8 bytes of <c>"repro/" + purpose + "\0" + seed (invariant decimal) + "\0" + name</c>, and the seed is the
/// first 8 bytes of the digest read as a little-endian unsigned integer. Example: purpose "calibration",
/// seed 0, name "de" hashes the string "repro/calibration\u00000\u0000de".
/// </summary>
public static class SubSeed
{
    public static ulong Derive(string purpose, long seed, string name)
    {
        var text = $"repro/{purpose}\0{seed.ToString(CultureInfo.InvariantCulture)}\0{name}";
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }
}
